import type { Queryable } from '../../src/sql/db.ts';

/** Rows written as the owner (no RLS), for tests that then act as a user or role (users: support/canon.ts). */
export async function insertProfile(
  db: Queryable,
  userId: string,
  privacyLevel: 'public' | 'followers' | 'private',
  displayName = 'someone',
): Promise<void> {
  await db.query(
    'INSERT INTO profiles (user_id, display_name, privacy_level) VALUES ($1, $2, $3)',
    [userId, displayName, privacyLevel],
  );
}

export async function insertPost(
  db: Queryable,
  authorId: string,
  status: 'published' | 'hidden' | 'removed' | 'deleted' = 'published',
  text = 'hello',
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO posts (author_id, text, status) VALUES ($1, $2, $3) RETURNING id',
    [authorId, text, status],
  );
  return rows[0]!.id;
}

export async function count(db: Queryable, table: string, where = 'true', params: unknown[] = []) {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table} WHERE ${where}`,
    params,
  );
  return rows[0]!.n;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
