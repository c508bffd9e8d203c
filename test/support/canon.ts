import { randomUUID } from 'node:crypto';
import { POST_COLUMNS, type PostRow, postSnapshot } from '../../src/canonical/tables/posts.ts';
import {
  PROFILE_COLUMNS,
  type ProfileRow,
  profileSnapshot,
} from '../../src/canonical/tables/profiles.ts';
import { softDeleteUser } from '../../src/canonical/tables/users.ts';
import { NOW_MS } from '../../src/canonical/time.ts';
import type {
  AggregateType,
  PostSnapshot,
  PrivacyLevel,
  ReactionType,
} from '../../src/events/catalogue.ts';
import { emit, pairAggregateId } from '../../src/events/emit.ts';
import type { Db, Queryable } from '../../src/sql/db.ts';

/**
 * The one canonical fixture: rows as the domain writes them, each with its outbox events in
 * the same transaction, in plain SQL (as the owner, no RLS) so pipeline and ops tests do not
 * depend on the API or on the domain's direct projection writes. Where the domain has a rule
 * (a block severs follows both ways), this fixture follows it.
 */

export interface NewUser {
  /** Display name and email local part (default 'u'). */
  name?: string;
  /** Default `${name}-<8 hex>@example.test`. */
  email?: string;
  role?: 'user' | 'moderator' | 'admin';
  /** A deleted account (deleted_at set). */
  deleted?: boolean;
  /**
   * The profile registration writes, with its profile.updated event (default). false: the
   * users row alone, no event (row-level tests of constraints and RLS).
   */
  profile?: false | { displayName?: string; bio?: string | null; privacyLevel?: PrivacyLevel };
}

/** One user, in the caller's transaction (or directly on a connection for row-level tests). */
export async function insertUser(tx: Queryable, u: NewUser = {}): Promise<string> {
  const id = randomUUID();
  const name = u.name ?? 'u';
  await tx.query(
    `INSERT INTO users (id, email, role, deleted_at, created_at, updated_at)
     VALUES ($1, $2, $3, CASE WHEN $4 THEN ${NOW_MS} END, ${NOW_MS}, ${NOW_MS})`,
    [id, u.email ?? `${name}-${id.slice(0, 8)}@example.test`, u.role ?? 'user', u.deleted ?? false],
  );
  if (u.profile === false) return id;
  const { rows } = await tx.query<ProfileRow>(
    `INSERT INTO profiles (user_id, display_name, bio, privacy_level, created_at, updated_at)
     VALUES ($1, $2, $3, $4, ${NOW_MS}, ${NOW_MS}) RETURNING ${PROFILE_COLUMNS}`,
    [
      id,
      u.profile?.displayName ?? name,
      u.profile?.bio ?? null,
      u.profile?.privacyLevel ?? 'public',
    ],
  );
  await emit(tx, { type: 'profile', id }, 'profile.updated', profileSnapshot(rows[0]!));
  return id;
}

const pair = (type: AggregateType, ...parts: string[]) => ({
  type,
  id: pairAggregateId(type, ...parts),
});

async function dropFollow(tx: Queryable, followerId: string, followeeId: string): Promise<void> {
  const { rowCount } = await tx.query(
    'DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2',
    [followerId, followeeId],
  );
  if (rowCount > 0)
    await emit(tx, pair('follow', followerId, followeeId), 'follow.removed', {
      followerId,
      followeeId,
    });
}

async function postUpdate(
  tx: Queryable,
  event: 'post.updated' | 'post.deleted' | 'post.moderated',
  sql: string,
  params: unknown[],
): Promise<PostSnapshot> {
  const { rows } = await tx.query<PostRow>(`${sql} RETURNING ${POST_COLUMNS}`, params);
  const s = postSnapshot(rows[0]!);
  await emit(tx, { type: 'post', id: s.id }, event, s);
  return s;
}

export class Canon {
  constructor(readonly db: Db) {}

  user(name = 'u', opts: Omit<NewUser, 'name'> = {}): Promise<string> {
    return this.db.transaction((tx) => insertUser(tx, { ...opts, name }));
  }

  /** Many followers of one user at once, without events or profiles (large audiences). */
  async bulkFollowers(followeeId: string, n: number): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(
      `WITH u AS (
         INSERT INTO users (email) SELECT 'bulk-' || gen_random_uuid() || '@example.test' FROM generate_series(1, $1)
         RETURNING id)
       INSERT INTO follows (follower_id, followee_id) SELECT id, $2 FROM u RETURNING follower_id AS id`,
      [n, followeeId],
    );
    return rows.map((r) => r.id);
  }

  /** `at` (or `ageSeconds` before now) sets createdAt, so feed order is deterministic. */
  post(
    authorId: string,
    text: string,
    opts: { at?: Date; ageSeconds?: number; tags?: string[] } = {},
  ): Promise<PostSnapshot> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<PostRow>(
        `WITH t AS (SELECT coalesce($3::timestamptz, ${NOW_MS} - make_interval(secs => $4)) AS at)
         INSERT INTO posts (author_id, text, tags, created_at, updated_at)
         SELECT $1, $2, $5, at, at FROM t RETURNING ${POST_COLUMNS}`,
        [authorId, text, opts.at?.toISOString() ?? null, opts.ageSeconds ?? 0, opts.tags ?? []],
      );
      const s = postSnapshot(rows[0]!);
      await emit(tx, { type: 'post', id: s.id }, 'post.created', s);
      return s;
    });
  }

  editPost(postId: string, text: string): Promise<PostSnapshot> {
    return this.db.transaction((tx) =>
      postUpdate(
        tx,
        'post.updated',
        `UPDATE posts SET text = $2, version = version + 1, updated_at = ${NOW_MS} WHERE id = $1`,
        [postId, text],
      ),
    );
  }

  deletePost(postId: string): Promise<PostSnapshot> {
    return this.db.transaction((tx) =>
      postUpdate(
        tx,
        'post.deleted',
        `UPDATE posts SET status = 'deleted', deleted_at = ${NOW_MS}, version = version + 1, updated_at = ${NOW_MS}
          WHERE id = $1`,
        [postId],
      ),
    );
  }

  moderatePost(postId: string, status: 'removed' | 'hidden' | 'published'): Promise<PostSnapshot> {
    return this.db.transaction((tx) =>
      postUpdate(
        tx,
        'post.moderated',
        `UPDATE posts SET status = $2, version = version + 1, updated_at = ${NOW_MS} WHERE id = $1`,
        [postId, status],
      ),
    );
  }

  async react(userId: string, postId: string, type: ReactionType = 'like'): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ created_at: Date; author_id: string }>(
        `INSERT INTO reactions (post_id, user_id, type, created_at) VALUES ($1, $2, $3, ${NOW_MS})
         RETURNING created_at, (SELECT author_id FROM posts WHERE id = $1) AS author_id`,
        [postId, userId, type],
      );
      await emit(tx, pair('reaction', postId, userId, type), 'reaction.added', {
        postId,
        postAuthorId: rows[0]!.author_id,
        userId,
        type,
        createdAt: rows[0]!.created_at.toISOString(),
      });
    });
  }

  async unreact(userId: string, postId: string, type: ReactionType = 'like'): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ author_id: string }>(
        `DELETE FROM reactions WHERE post_id = $1 AND user_id = $2 AND type = $3
         RETURNING (SELECT author_id FROM posts WHERE id = $1) AS author_id`,
        [postId, userId, type],
      );
      await emit(tx, pair('reaction', postId, userId, type), 'reaction.removed', {
        postId,
        postAuthorId: rows[0]!.author_id,
        userId,
        type,
      });
    });
  }

  async follow(followerId: string, followeeId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ created_at: Date }>(
        `INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, ${NOW_MS})
         RETURNING created_at`,
        [followerId, followeeId],
      );
      await emit(tx, pair('follow', followerId, followeeId), 'follow.created', {
        followerId,
        followeeId,
        createdAt: rows[0]!.created_at.toISOString(),
      });
    });
  }

  unfollow(followerId: string, followeeId: string): Promise<void> {
    return this.db.transaction((tx) => dropFollow(tx, followerId, followeeId));
  }

  /**
   * As the domain does: the block severs follows both ways, each with its follow.removed.
   * `keepFollows` writes the state a follow racing the block can leave behind (both rows
   * committed), which the audience filters must still honour.
   */
  async block(blockerId: string, blockedId: string, opts: { keepFollows?: boolean } = {}) {
    await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ created_at: Date }>(
        `INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, ${NOW_MS})
         RETURNING created_at`,
        [blockerId, blockedId],
      );
      if (!opts.keepFollows) {
        await dropFollow(tx, blockerId, blockedId);
        await dropFollow(tx, blockedId, blockerId);
      }
      await emit(tx, pair('block', blockerId, blockedId), 'block.created', {
        blockerId,
        blockedId,
        createdAt: rows[0]!.created_at.toISOString(),
      });
    });
  }

  async unblock(blockerId: string, blockedId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2', [
        blockerId,
        blockedId,
      ]);
      await emit(tx, pair('block', blockerId, blockedId), 'block.removed', {
        blockerId,
        blockedId,
      });
    });
  }

  async mute(muterId: string, mutedId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ created_at: Date }>(
        `INSERT INTO mutes (muter_id, muted_id, created_at) VALUES ($1, $2, ${NOW_MS}) RETURNING created_at`,
        [muterId, mutedId],
      );
      await emit(tx, pair('mute', muterId, mutedId), 'mute.created', {
        muterId,
        mutedId,
        createdAt: rows[0]!.created_at.toISOString(),
      });
    });
  }

  async unmute(muterId: string, mutedId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM mutes WHERE muter_id = $1 AND muted_id = $2', [muterId, mutedId]);
      await emit(tx, pair('mute', muterId, mutedId), 'mute.removed', { muterId, mutedId });
    });
  }

  async updateProfile(userId: string, displayName: string, bio: string | null): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<ProfileRow>(
        `UPDATE profiles SET display_name = $2, bio = $3, version = version + 1, updated_at = ${NOW_MS}
          WHERE user_id = $1 RETURNING ${PROFILE_COLUMNS}`,
        [userId, displayName, bio],
      );
      await emit(tx, { type: 'profile', id: userId }, 'profile.updated', profileSnapshot(rows[0]!));
    });
  }

  /**
   * The canonical rows of an account go and user.deleted carries what the projections must
   * purge (the handler's input, without the per-aggregate events the domain also emits).
   */
  async deleteUser(userId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const ids = async (sql: string) =>
        (await tx.query<{ id: string }>(sql, [userId])).rows.map((r) => r.id);
      const postIds = await ids('SELECT id::text AS id FROM posts WHERE author_id = $1');
      const reactions = (
        await tx.query<{ postId: string; type: ReactionType }>(
          'SELECT post_id::text AS "postId", type FROM reactions WHERE user_id = $1',
          [userId],
        )
      ).rows;
      const followerIds = await ids(
        'SELECT follower_id::text AS id FROM follows WHERE followee_id = $1',
      );
      const followeeIds = await ids(
        'SELECT followee_id::text AS id FROM follows WHERE follower_id = $1',
      );
      // As the domain does: posts are soft-deleted (user.deleted may name only the account's own posts).
      await tx.query(
        `UPDATE posts SET status = 'deleted', version = version + 1, updated_at = ${NOW_MS}, deleted_at = ${NOW_MS}
          WHERE author_id = $1 AND status <> 'deleted'`,
        [userId],
      );
      await tx.query('DELETE FROM reactions WHERE user_id = $1', [userId]);
      await tx.query('DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1', [userId]);
      await tx.query('DELETE FROM profiles WHERE user_id = $1', [userId]);
      const deletedAt = await softDeleteUser(tx, userId);
      await emit(tx, { type: 'user', id: userId }, 'user.deleted', {
        userId,
        deletedAt,
        postIds,
        reactions,
        followerIds,
        followeeIds,
      });
    });
  }
}
