import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../../sql/db.ts';
import { asWorker, sessionStatement } from '../session.ts';
import { iso } from '../time.ts';
import type { PairTable } from './pair-table.ts';

/** follows (with follower_counts, kept by trigger) and the relationship state around a pair. */
export const FOLLOWS: PairTable = { table: 'follows', from: 'follower_id', to: 'followee_id' };

/** Removes every follow to or from a user (account deletion); returns the removed pairs. */
export async function deleteFollowsOf(
  tx: Queryable,
  userId: string,
): Promise<{ followerId: string; followeeId: string }[]> {
  const { rows } = await tx.query<{ follower_id: string; followee_id: string }>(
    'DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1 RETURNING follower_id, followee_id',
    [userId],
  );
  return rows.map((r) => ({ followerId: r.follower_id, followeeId: r.followee_id }));
}

/** One follow in a user's list, with the other user's display name when visible. */
export interface FollowListRow {
  id: string;
  userId: string;
  displayName: string | null;
  createdAt: string;
}

/**
 * A user's followers (or followees), newest first, after a (createdAt, id) keyset, with the
 * other user's display name when the caller may see that profile (profiles RLS).
 */
export async function followsPage(
  tx: Queryable,
  subjectId: string,
  direction: 'followers' | 'following',
  after: { t: string; id: string } | undefined,
  limit: number,
): Promise<FollowListRow[]> {
  const [self, other] =
    direction === 'followers' ? ['followee_id', 'follower_id'] : ['follower_id', 'followee_id'];
  const { rows } = await tx.query<{
    id: string;
    user_id: string;
    display_name: string | null;
    created_at: unknown;
  }>(
    `SELECT f.id, f.${other} AS user_id, p.display_name, f.created_at
       FROM follows f LEFT JOIN profiles p ON p.user_id = f.${other}
      WHERE f.${self} = $1
        AND ($2::timestamptz IS NULL OR (f.created_at, f.id) < ($2::timestamptz, $3::uuid))
      ORDER BY f.created_at DESC, f.id DESC
      LIMIT $4`,
    [subjectId, after?.t ?? null, after?.id ?? null, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    userId: r.user_id,
    displayName: r.display_name,
    createdAt: iso(r.created_at),
  }));
}

/** What a reader's feed merge needs from canonical (feed_read_context, a definer function). */
export interface FeedReadRow {
  hidden: string[];
  bigFollowees: string[];
  lastPostAt: string | null;
}

/**
 * One statement as the reader (the session function refuses a deleted account): whom they
 * must not see, their followees above the fan-out threshold and their own last post time.
 */
export async function feedReadContext(
  db: Db,
  userId: string,
  threshold: number,
): Promise<FeedReadRow> {
  const { rows } = await sessionStatement(() =>
    db.query<{ hidden: string[]; big_followees: string[]; last_post_at: unknown }>(
      'SELECT hidden, big_followees, last_post_at FROM feed_read_context($1::uuid, $2::int)',
      [userId, threshold],
    ),
  );
  const r = rows[0]!;
  return {
    hidden: r.hidden ?? [],
    bigFollowees: r.big_followees ?? [],
    lastPostAt: r.last_post_at ? iso(r.last_post_at) : null,
  };
}

export interface RelationshipState {
  /** follower follows followee. */
  following: boolean;
  /** A block in either direction. */
  blocked: boolean;
  /** follower mutes followee. */
  muted: boolean;
  /** Both accounts exist and are not deleted. */
  bothActive: boolean;
  followeeFollowers: number;
}

/**
 * The current canonical truth about one follower → followee pair, read from the primary
 * (a replica may not show the change that caused the event yet).
 */
export function relationshipState(
  db: Db,
  followerId: string,
  followeeId: string,
): Promise<RelationshipState> {
  return asWorker(db, async (tx) => {
    const { rows } = await tx.query<RelationshipState>(
      `SELECT EXISTS (SELECT 1 FROM follows WHERE follower_id = $1 AND followee_id = $2) AS following,
              EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2)
                                              OR (blocker_id = $2 AND blocked_id = $1)) AS blocked,
              EXISTS (SELECT 1 FROM mutes WHERE muter_id = $1 AND muted_id = $2) AS muted,
              (SELECT count(*) FROM users WHERE id IN ($1, $2) AND deleted_at IS NULL) = 2 AS "bothActive",
              COALESCE((SELECT followers FROM follower_counts WHERE user_id = $2), 0) AS "followeeFollowers"`,
      [followerId, followeeId],
    );
    return rows[0]!;
  });
}

/** How many accounts a user follows (the `following` counter's truth). */
export async function countFollowing(tx: Queryable, userId: string): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM follows WHERE follower_id = $1',
    [userId],
  );
  return rows[0]!.n;
}

/** A user's follower count, trigger-kept in the same transaction as follows (0005): O(1) even for celebrities. */
export async function countFollowers(tx: Queryable, userId: string): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    'SELECT COALESCE((SELECT followers FROM follower_counts WHERE user_id = $1), 0) AS n',
    [userId],
  );
  return Number(rows[0]!.n);
}

/**
 * The visibility rule of a follow `f` for its follower `user` (an SQL expression): the
 * followee's account is live, no block either way, not muted, and the followee is at or
 * below the fan-out threshold (popular authors are merged at read time).
 */
export const visibleFollowee = (user: string, threshold: string) => `
      JOIN users u ON u.id = f.followee_id AND u.deleted_at IS NULL
     WHERE f.follower_id = ${user}
       AND NOT EXISTS (SELECT 1 FROM blocks b
                        WHERE (b.blocker_id = ${user} AND b.blocked_id = f.followee_id)
                           OR (b.blocker_id = f.followee_id AND b.blocked_id = ${user}))
       AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = ${user} AND m.muted_id = f.followee_id)
       AND COALESCE((SELECT c.followers FROM follower_counts c WHERE c.user_id = f.followee_id), 0) <= ${threshold}`;

/**
 * `authors (id, since)`: whose posts a user's fanned-out feed holds: their own, and those
 * of every followee they may see (no block either way, not muted, account live) at or
 * below the fan-out threshold; `since` is when the follow began. Parameters: $1 the
 * user, $3 the threshold (the caller's query owns $2). A follow is never of oneself
 * (follows_no_self), so the union has no duplicates.
 */
export const FEED_AUTHORS_CTE = `
  authors AS (
    SELECT $1::uuid AS id, '-infinity'::timestamptz AS since
    UNION ALL
    SELECT f.followee_id, f.created_at FROM follows f${visibleFollowee('$1', '$3::int')}
  )`;

/**
 * Bulk-creates follows at one time (the seed), one statement. Row ids come from Node: the
 * column default (gen_random_uuid) asks the OS for entropy per row, which on PGlite is a
 * call out of WASM each.
 */
export async function insertFollows(
  tx: Queryable,
  pairs: { followerId: string; followeeId: string }[],
  createdAt: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO follows (id, follower_id, followee_id, created_at)
     SELECT i, f, e, $4 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS x(i, f, e)`,
    [
      pairs.map(() => randomUUID()),
      pairs.map((p) => p.followerId),
      pairs.map((p) => p.followeeId),
      createdAt,
    ],
  );
}

/** Every follow of these users (as the followee), in one query. */
export async function followsOf(
  tx: Queryable,
  followeeIds: string[],
): Promise<{ followerId: string; followeeId: string; createdAt: unknown }[]> {
  const { rows } = await tx.query<{
    follower_id: string;
    followee_id: string;
    created_at: unknown;
  }>(
    'SELECT follower_id, followee_id, created_at FROM follows WHERE followee_id = ANY($1::uuid[])',
    [followeeIds],
  );
  return rows.map((r) => ({
    followerId: r.follower_id,
    followeeId: r.followee_id,
    createdAt: r.created_at,
  }));
}

/** Follower (trigger-kept, as countFollowers) and following counts of many users, in one query. */
export async function followCountsOf(
  tx: Queryable,
  userIds: string[],
): Promise<{ userId: string; followers: number; following: number }[]> {
  const { rows } = await tx.query<{ id: string; followers: number; following: number }>(
    `SELECT u.id,
            COALESCE((SELECT c.followers FROM follower_counts c WHERE c.user_id = u.id), 0)::int AS followers,
            (SELECT count(*) FROM follows f WHERE f.follower_id = u.id)::int AS following
       FROM unnest($1::uuid[]) AS u(id)`,
    [userIds],
  );
  return rows.map((r) => ({ userId: r.id, followers: r.followers, following: r.following }));
}
