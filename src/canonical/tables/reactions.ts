import type { ReactionType } from '../../events/vocabulary.ts';
import type { Queryable } from '../../sql/db.ts';

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
