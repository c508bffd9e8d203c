import type { Db, Queryable } from '../../sql/db.ts';
import { asWorker } from '../session.ts';

/** Which of these accounts exist and are not deleted. */
export function liveUsers(db: Db, ids: string[]): Promise<Set<string>> {
  return asWorker(db, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      'SELECT id::text AS id FROM users WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL',
      [ids],
    );
    return new Set(rows.map((r) => r.id));
  });
}

/**
 * Bulk-creates email accounts (the seed): users rows and their email identities, one
 * statement each. Every account gets the same password hash and creation time.
 */
export async function insertEmailAccounts(
  tx: Queryable,
  accounts: { id: string; email: string }[],
  passwordHash: string,
  createdAt: string,
): Promise<void> {
  const ids = accounts.map((a) => a.id);
  const emails = accounts.map((a) => a.email);
  await tx.query(
    `INSERT INTO users (id, email, password_hash, created_at, updated_at)
     SELECT id, email, $3, $4, $4 FROM unnest($1::uuid[], $2::text[]) AS x(id, email)`,
    [ids, emails, passwordHash, createdAt],
  );
  await tx.query(
    `INSERT INTO auth_identities (user_id, provider, provider_subject)
     SELECT id, 'email', email FROM unnest($1::uuid[], $2::text[]) AS x(id, email)`,
    [ids, emails],
  );
}
