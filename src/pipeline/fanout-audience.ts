import { asWorker } from '../canonical/session.ts';
import type { Db } from '../sql/db.ts';

/**
 * Who a post reaches, from canonical data (the replica when one is configured), as the
 * worker role. Kept to indexed keyset scans so a large audience streams in pages.
 */

/** Followers of `authorId`, at most `limit` (from the trigger-kept follower_counts). */
export async function countFollowersUpTo(db: Db, authorId: string, limit: number): Promise<number> {
  return asWorker(db, async (tx) => {
    const { rows } = await tx.query<{ n: number }>(
      `SELECT LEAST(COALESCE((SELECT followers FROM follower_counts WHERE user_id = $1), 0), $2)::int AS n`,
      [authorId, limit],
    );
    return rows[0]!.n;
  });
}

export interface AudienceOptions {
  pageSize: number;
  /**
   * true: only followers who should see the author's new posts (no block either way, not
   * muted by the follower, account not deleted). false: every follower (for removals,
   * which must reach whoever may hold an item).
   */
  visibleOnly: boolean;
}

/** Follower ids of `authorId` in pages of at most pageSize, ordered by id. */
export async function* followerPages(
  db: Db,
  authorId: string,
  opts: AudienceOptions,
): AsyncGenerator<string[]> {
  // Per-row probes by primary key (scalar subqueries are never turned into joins), so the
  // page is the follows index range whatever the statistics say: stale statistics once
  // made the planner hash-join a scan of every user into each page. Most authors block,
  // are blocked by and are muted by no one: one check per page (an InitPlan, run once)
  // then skips the three per-follower probes.
  const filter = opts.visibleOnly
    ? `AND (NOT (SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1)
                     OR EXISTS (SELECT 1 FROM blocks WHERE blocked_id = $1)
                     OR EXISTS (SELECT 1 FROM mutes WHERE muted_id = $1))
            OR ((SELECT true FROM blocks b
                  WHERE b.blocker_id = f.follower_id AND b.blocked_id = $1) IS NULL
                AND (SELECT true FROM blocks b
                  WHERE b.blocker_id = $1 AND b.blocked_id = f.follower_id) IS NULL
                AND (SELECT true FROM mutes m
                  WHERE m.muter_id = f.follower_id AND m.muted_id = $1) IS NULL))
       AND (SELECT u.deleted_at IS NULL FROM users u WHERE u.id = f.follower_id)`
    : '';
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const ids = await asWorker(db, async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `SELECT f.follower_id AS id FROM follows f
          WHERE f.followee_id = $1 AND f.follower_id > $2 ${filter}
          ORDER BY f.follower_id LIMIT $3`,
        [authorId, after, opts.pageSize],
      );
      return rows.map((r) => r.id);
    });
    if (ids.length === 0) return;
    yield ids;
    if (ids.length < opts.pageSize) return;
    after = ids[ids.length - 1]!;
  }
}
