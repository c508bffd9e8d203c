import { randomUUID } from 'node:crypto';
import type {
  PostSnapshot,
  PostStatus,
  ProfileSnapshot,
  ReactionType,
} from '../../../src/events/catalogue.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import { emit, pairAggregateId } from '../../../src/outbox/emit.ts';
import { createRelay, type Relay } from '../../../src/outbox/relay.ts';
import { createEventApplier } from '../../../src/pipeline/apply-event.ts';
import type { PipelineContext } from '../../../src/pipeline/context.ts';
import { tableName } from '../../../src/projections/embedded/schema.ts';
import type { EmbeddedProjectionStore } from '../../../src/projections/embedded/store.ts';
import type { Doc, ProjectionStore } from '../../../src/projections/port.ts';
import { CONTAINERS } from '../../../src/readmodel/documents.ts';
import type { Db, Queryable } from '../../../src/sql/db.ts';

/**
 * Canonical writes as the domain makes them (row change + outbox event in one
 * transaction), in plain SQL so these tests do not depend on the API layer.
 */
export class Canon {
  constructor(readonly db: Db) {}

  async user(name = 'u'): Promise<string> {
    const id = randomUUID();
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO users (id, email) VALUES ($1, $2)', [
        id,
        `${name}-${id.slice(0, 8)}@example.com`,
      ]);
      await tx.query('INSERT INTO profiles (user_id, display_name) VALUES ($1, $2)', [id, name]);
    });
    return id;
  }

  private async postSnap(tx: Queryable, id: string): Promise<PostSnapshot> {
    const { rows } = await tx.query<{
      id: string;
      author_id: string;
      text: string;
      tags: string[];
      status: PostStatus;
      version: number;
      created_at: Date;
      updated_at: Date;
    }>(
      'SELECT id::text, author_id::text, text, tags, status, version, created_at, updated_at FROM posts WHERE id = $1',
      [id],
    );
    const r = rows[0]!;
    return {
      id: r.id,
      authorId: r.author_id,
      text: r.text,
      tags: r.tags,
      status: r.status,
      version: r.version,
      createdAt: r.created_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    };
  }

  /** createdAt in the past by `ageSeconds` so feed order is deterministic. */
  async post(authorId: string, text: string, ageSeconds = 0): Promise<string> {
    const id = randomUUID();
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO posts (id, author_id, text, tags, created_at, updated_at)
         VALUES ($1, $2, $3, '{t}', date_trunc('milliseconds', now()) - make_interval(secs => $4),
                 date_trunc('milliseconds', now()) - make_interval(secs => $4))`,
        [id, authorId, text, ageSeconds],
      );
      await emit(tx, { type: 'post', id }, 'post.created', await this.postSnap(tx, id));
    });
    return id;
  }

  async editPost(id: string, text: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        'UPDATE posts SET text = $2, version = version + 1, updated_at = now() WHERE id = $1',
        [id, text],
      );
      await emit(tx, { type: 'post', id }, 'post.updated', await this.postSnap(tx, id));
    });
  }

  async setPostStatus(id: string, status: PostStatus): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        'UPDATE posts SET status = $2, version = version + 1, updated_at = now() WHERE id = $1',
        [id, status],
      );
      const type = status === 'deleted' ? 'post.deleted' : 'post.moderated';
      await emit(tx, { type: 'post', id }, type, await this.postSnap(tx, id));
    });
  }

  async react(postId: string, userId: string, type: ReactionType = 'like'): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ author: string; at: Date }>(
        `WITH r AS (INSERT INTO reactions (post_id, user_id, type) VALUES ($1, $2, $3) RETURNING created_at)
         SELECT (SELECT author_id::text FROM posts WHERE id = $1) AS author, r.created_at AS at FROM r`,
        [postId, userId, type],
      );
      await emit(
        tx,
        { type: 'reaction', id: pairAggregateId('reaction', postId, userId, type) },
        'reaction.added',
        {
          postId,
          postAuthorId: rows[0]!.author,
          userId,
          type,
          createdAt: rows[0]!.at.toISOString(),
        },
      );
    });
  }

  async unreact(postId: string, userId: string, type: ReactionType = 'like'): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM reactions WHERE post_id = $1 AND user_id = $2 AND type = $3', [
        postId,
        userId,
        type,
      ]);
      const { rows } = await tx.query<{ author: string }>(
        'SELECT author_id::text AS author FROM posts WHERE id = $1',
        [postId],
      );
      await emit(
        tx,
        { type: 'reaction', id: pairAggregateId('reaction', postId, userId, type) },
        'reaction.removed',
        {
          postId,
          postAuthorId: rows[0]!.author,
          userId,
          type,
        },
      );
    });
  }

  async follow(followerId: string, followeeId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [
        followerId,
        followeeId,
      ]);
      await emit(
        tx,
        { type: 'follow', id: pairAggregateId('follow', followerId, followeeId) },
        'follow.created',
        {
          followerId,
          followeeId,
          createdAt: new Date().toISOString(),
        },
      );
    });
  }

  private async unfollowIn(tx: Queryable, followerId: string, followeeId: string): Promise<void> {
    const { rowCount } = await tx.query(
      'DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2',
      [followerId, followeeId],
    );
    if (rowCount > 0) {
      await emit(
        tx,
        { type: 'follow', id: pairAggregateId('follow', followerId, followeeId) },
        'follow.removed',
        {
          followerId,
          followeeId,
        },
      );
    }
  }

  unfollow(followerId: string, followeeId: string): Promise<void> {
    return this.db.transaction((tx) => this.unfollowIn(tx, followerId, followeeId));
  }

  /** As the domain does: the block severs follows both ways, each with its follow.removed. */
  async block(blockerId: string, blockedId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)', [
        blockerId,
        blockedId,
      ]);
      await this.unfollowIn(tx, blockerId, blockedId);
      await this.unfollowIn(tx, blockedId, blockerId);
      await emit(
        tx,
        { type: 'block', id: pairAggregateId('block', blockerId, blockedId) },
        'block.created',
        {
          blockerId,
          blockedId,
          createdAt: new Date().toISOString(),
        },
      );
    });
  }

  async unblock(blockerId: string, blockedId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2', [
        blockerId,
        blockedId,
      ]);
      await emit(
        tx,
        { type: 'block', id: pairAggregateId('block', blockerId, blockedId) },
        'block.removed',
        {
          blockerId,
          blockedId,
        },
      );
    });
  }

  async mute(muterId: string, mutedId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO mutes (muter_id, muted_id) VALUES ($1, $2)', [muterId, mutedId]);
      await emit(
        tx,
        { type: 'mute', id: pairAggregateId('mute', muterId, mutedId) },
        'mute.created',
        {
          muterId,
          mutedId,
          createdAt: new Date().toISOString(),
        },
      );
    });
  }

  async unmute(muterId: string, mutedId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM mutes WHERE muter_id = $1 AND muted_id = $2', [muterId, mutedId]);
      await emit(
        tx,
        { type: 'mute', id: pairAggregateId('mute', muterId, mutedId) },
        'mute.removed',
        { muterId, mutedId },
      );
    });
  }

  async updateProfile(userId: string, displayName: string, bio: string | null): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{
        version: number;
        updated_at: Date;
        privacy_level: ProfileSnapshot['privacyLevel'];
      }>(
        `UPDATE profiles SET display_name = $2, bio = $3, version = version + 1, updated_at = now()
          WHERE user_id = $1 RETURNING version, updated_at, privacy_level`,
        [userId, displayName, bio],
      );
      const r = rows[0]!;
      await emit(tx, { type: 'profile', id: userId }, 'profile.updated', {
        userId,
        displayName,
        bio,
        avatarUrl: null,
        privacyLevel: r.privacy_level,
        version: r.version,
        updatedAt: r.updated_at.toISOString(),
      });
    });
  }

  /** Account deletion: canonical rows go; the event carries what the projections need. */
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
      await tx.query('DELETE FROM posts WHERE author_id = $1', [userId]);
      await tx.query('DELETE FROM reactions WHERE user_id = $1', [userId]);
      await tx.query('DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1', [userId]);
      await tx.query('UPDATE users SET deleted_at = now() WHERE id = $1', [userId]);
      await emit(tx, { type: 'user', id: userId }, 'user.deleted', {
        userId,
        deletedAt: new Date().toISOString(),
        postIds,
        reactions,
        followerIds,
        followeeIds,
      });
    });
  }
}

export function pipelineContext(
  db: Db,
  store: ProjectionStore,
  over: Partial<PipelineContext> = {},
): PipelineContext {
  return {
    db,
    readDb: db,
    store,
    fanoutFollowerThreshold: 10_000,
    feedCap: 800,
    log: silentLogger,
    metrics: new Metrics(),
    ...over,
  };
}

export function relayFor(ctx: PipelineContext, opts: { workerId?: string; db?: Db } = {}): Relay {
  return createRelay({
    db: opts.db ?? ctx.db,
    apply: createEventApplier(ctx),
    workerId: opts.workerId,
    pollIntervalMs: 20,
  });
}

/** Runs the relay until nothing is due. */
export async function drain(relay: Relay): Promise<void> {
  for (let i = 0; i < 1000; i++) if ((await relay.runOnce()) === 0) return;
  throw new Error('outbox did not drain');
}

/** Every document of a container, all partitions, without system properties (compare by value). */
export async function dump(store: ProjectionStore, name: string): Promise<Doc[]> {
  const c = store.container(name);
  const out: Doc[] = [];
  let continuation: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof c.query>> = await c.query({ limit: 500, continuation });
    for (const { _etag, _ts, ...doc } of page.items) out.push(doc as Doc);
    continuation = page.continuation;
  } while (continuation);
  return out.sort((a, b) =>
    `${c.partitionKeyOf(a)}/${a.id}`.localeCompare(`${c.partitionKeyOf(b)}/${b.id}`),
  );
}

/** All projection containers (counters without their wall-clock updatedAt). */
export async function dumpAll(store: ProjectionStore): Promise<Record<string, Doc[]>> {
  const out: Record<string, Doc[]> = {};
  for (const name of Object.values(CONTAINERS)) {
    if (name === CONTAINERS.leases) continue;
    const docs = await dump(store, name);
    out[name] =
      name === CONTAINERS.counters ? docs.map(({ updatedAt: _clock, ...d }) => d as Doc) : docs;
  }
  return out;
}

export async function mirrorRows(db: Db) {
  const { rows } = await db.query<{
    post_id: string;
    status: string;
    text: string;
    source_version: number;
  }>('SELECT post_id::text, status, text, source_version FROM posts_admin_mirror ORDER BY post_id');
  return rows;
}

/** Empties every projection table of an embedded store (cheaper than a new store per test). */
export async function resetProjections(store: EmbeddedProjectionStore): Promise<void> {
  await store.db.exec(
    `TRUNCATE ${store
      .definitions()
      .map((d) => `"${tableName(d)}"`)
      .join(', ')}`,
  );
}
