import { asWorker } from '../../canonical/session.ts';
import type { PostStatus } from '../../outbox/events.ts';
import type { Db } from '../../sql/db.ts';

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

export interface CanonicalPost {
  id: string;
  authorId: string;
  text: string;
  tags: string[];
  status: PostStatus;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** An author's most recent published posts, newest first (feed backfill). */
export function recentPublishedPosts(
  db: Db,
  authorId: string,
  limit: number,
): Promise<CanonicalPost[]> {
  return asWorker(db, async (tx) => {
    const { rows } = await tx.query<CanonicalPost>(
      `SELECT id::text, author_id::text AS "authorId", text, tags, status, version,
              created_at AS "createdAt", updated_at AS "updatedAt"
         FROM posts
        WHERE author_id = $1 AND status = 'published' AND deleted_at IS NULL
        ORDER BY created_at DESC
        LIMIT $2`,
      [authorId, limit],
    );
    return rows;
  });
}

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
