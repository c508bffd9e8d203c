import type { ReactionType } from '../../events/vocabulary.ts';
import type { Queryable } from '../../sql/db.ts';
import { iso, NOW_MS } from '../time.ts';

/** How many reactions of one type a post has (a reaction counter's truth). */
export async function countReactions(
  tx: Queryable,
  postId: string,
  type: ReactionType,
): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM reactions WHERE post_id = $1 AND type = $2',
    [postId, type],
  );
  return rows[0]!.n;
}

/** Reaction counts of many posts in one grouped query (types without reactions are absent). */
export async function reactionCountsOf(
  tx: Queryable,
  postIds: string[],
): Promise<{ postId: string; type: ReactionType; n: number }[]> {
  const { rows } = await tx.query<{ post_id: string; type: ReactionType; n: number }>(
    'SELECT post_id, type, count(*)::int AS n FROM reactions WHERE post_id = ANY($1::uuid[]) GROUP BY post_id, type',
    [postIds],
  );
  return rows.map((r) => ({ postId: r.post_id, type: r.type, n: r.n }));
}

/** The new reaction's creation time, or undefined when it already existed (idempotent PUT). */
export async function insertReaction(
  tx: Queryable,
  postId: string,
  userId: string,
  type: ReactionType,
): Promise<string | undefined> {
  const { rows } = await tx.query<{ created_at: unknown }>(
    `INSERT INTO reactions (post_id, user_id, type, created_at) VALUES ($1, $2, $3, ${NOW_MS})
     ON CONFLICT (post_id, user_id, type) DO NOTHING RETURNING created_at`,
    [postId, userId, type],
  );
  return rows[0] ? iso(rows[0].created_at) : undefined;
}

/** Whether the reaction was there to remove. */
export async function deleteReaction(
  tx: Queryable,
  postId: string,
  userId: string,
  type: ReactionType,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    'DELETE FROM reactions WHERE post_id = $1 AND user_id = $2 AND type = $3 RETURNING id',
    [postId, userId, type],
  );
  return rowCount > 0;
}

/** Every reaction a user made, oldest first (the account export). */
export async function reactionsBy(
  tx: Queryable,
  userId: string,
): Promise<{ post_id: string; type: ReactionType; created_at: unknown }[]> {
  const { rows } = await tx.query<{ post_id: string; type: ReactionType; created_at: unknown }>(
    'SELECT post_id, type, created_at FROM reactions WHERE user_id = $1 ORDER BY created_at',
    [userId],
  );
  return rows;
}

/** Removes every reaction a user made (account deletion); returns what was removed. */
export async function deleteReactionsBy(
  tx: Queryable,
  userId: string,
): Promise<{ postId: string; type: ReactionType }[]> {
  const { rows } = await tx.query<{ post_id: string; type: ReactionType }>(
    'DELETE FROM reactions WHERE user_id = $1 RETURNING post_id, type',
    [userId],
  );
  return rows.map((r) => ({ postId: r.post_id, type: r.type }));
}

/** Whether a user's reaction of one type on a post exists now. */
export async function reactionExists(
  tx: Queryable,
  postId: string,
  userId: string,
  type: ReactionType,
): Promise<boolean> {
  const { rows } = await tx.query<{ found: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM reactions WHERE post_id = $1 AND user_id = $2 AND type = $3) AS found',
    [postId, userId, type],
  );
  return rows[0]!.found;
}

/** Bulk-adds reactions (the seed), one statement. */
export async function insertReactions(
  tx: Queryable,
  rows: { postId: string; userId: string; type: ReactionType; createdAt: string }[],
): Promise<void> {
  await tx.query(
    `INSERT INTO reactions (post_id, user_id, type, created_at)
     SELECT p, u, t, c FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) AS x(p, u, t, c)`,
    [
      rows.map((r) => r.postId),
      rows.map((r) => r.userId),
      rows.map((r) => r.type),
      rows.map((r) => r.createdAt),
    ],
  );
}

/** Every reaction on these posts, in one query. */
export async function reactionsOn(
  tx: Queryable,
  postIds: string[],
): Promise<{ postId: string; userId: string; type: ReactionType; createdAt: unknown }[]> {
  const { rows } = await tx.query<{
    post_id: string;
    user_id: string;
    type: ReactionType;
    created_at: unknown;
  }>('SELECT post_id, user_id, type, created_at FROM reactions WHERE post_id = ANY($1::uuid[])', [
    postIds,
  ]);
  return rows.map((r) => ({
    postId: r.post_id,
    userId: r.user_id,
    type: r.type,
    createdAt: r.created_at,
  }));
}
