import { randomUUID } from 'node:crypto';
import type { PostSnapshot, ReactionType } from '../../../src/events/catalogue.ts';
import { emit, pairAggregateId } from '../../../src/outbox/emit.ts';
import type { Db } from '../../../src/sql/db.ts';

/**
 * SQL-level canonical writes with their outbox events, in one transaction each (as the
 * domain layer does), so pipeline tests do not depend on the domain code.
 */

export async function createUser(db: Db, name: string): Promise<string> {
  const id = randomUUID();
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO users (id, email) VALUES ($1, $2)', [
      id,
      `${name}-${id.slice(0, 8)}@example.test`,
    ]);
    await tx.query('INSERT INTO profiles (user_id, display_name) VALUES ($1, $2)', [id, name]);
  });
  return id;
}

export async function follow(db: Db, followerId: string, followeeId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ created_at: Date }>(
      'INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) RETURNING created_at',
      [followerId, followeeId],
    );
    await emit(
      tx,
      { type: 'follow', id: pairAggregateId('follow', followerId, followeeId) },
      'follow.created',
      {
        followerId,
        followeeId,
        createdAt: rows[0]!.created_at.toISOString(),
      },
    );
  });
}

/** Many follows of one user at once, without events (large audiences for threshold tests). */
export async function bulkFollowers(db: Db, followeeId: string, n: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH u AS (
       INSERT INTO users (email) SELECT 'bulk-' || gen_random_uuid() || '@example.test' FROM generate_series(1, $1)
       RETURNING id)
     INSERT INTO follows (follower_id, followee_id) SELECT id, $2 FROM u RETURNING follower_id AS id`,
    [n, followeeId],
  );
  return rows.map((r) => r.id);
}

export async function block(db: Db, blockerId: string, blockedId: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)', [
      blockerId,
      blockedId,
    ]);
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

export async function mute(db: Db, muterId: string, mutedId: string): Promise<void> {
  await db.transaction(async (tx) => {
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

interface PostRow {
  id: string;
  author_id: string;
  text: string;
  tags: string[];
  status: PostSnapshot['status'];
  version: number;
  created_at: Date;
  updated_at: Date;
}

const snapshot = (r: PostRow): PostSnapshot => ({
  id: r.id,
  authorId: r.author_id,
  text: r.text,
  tags: r.tags,
  status: r.status,
  version: Number(r.version),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const RETURNING = 'RETURNING id, author_id, text, tags, status, version, created_at, updated_at';
const MS = `date_trunc('milliseconds', clock_timestamp())`;

export async function createPost(
  db: Db,
  authorId: string,
  text: string,
  createdAt?: Date,
): Promise<PostSnapshot> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<PostRow>(
      `INSERT INTO posts (author_id, text, created_at, updated_at)
       VALUES ($1, $2, coalesce($3::timestamptz, ${MS}), coalesce($3::timestamptz, ${MS})) ${RETURNING}`,
      [authorId, text, createdAt?.toISOString() ?? null],
    );
    const s = snapshot(rows[0]!);
    await emit(tx, { type: 'post', id: s.id }, 'post.created', s);
    return s;
  });
}

export async function editPost(db: Db, postId: string, text: string): Promise<PostSnapshot> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<PostRow>(
      `UPDATE posts SET text = $2, version = version + 1, updated_at = ${MS} WHERE id = $1 ${RETURNING}`,
      [postId, text],
    );
    const s = snapshot(rows[0]!);
    await emit(tx, { type: 'post', id: s.id }, 'post.updated', s);
    return s;
  });
}

export async function deletePost(db: Db, postId: string): Promise<PostSnapshot> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<PostRow>(
      `UPDATE posts SET status = 'deleted', deleted_at = ${MS}, version = version + 1, updated_at = ${MS}
        WHERE id = $1 ${RETURNING}`,
      [postId],
    );
    const s = snapshot(rows[0]!);
    await emit(tx, { type: 'post', id: s.id }, 'post.deleted', s);
    return s;
  });
}

export async function moderatePost(
  db: Db,
  postId: string,
  status: 'removed' | 'hidden' | 'published',
): Promise<PostSnapshot> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<PostRow>(
      `UPDATE posts SET status = $2, version = version + 1, updated_at = ${MS} WHERE id = $1 ${RETURNING}`,
      [postId, status],
    );
    const s = snapshot(rows[0]!);
    await emit(tx, { type: 'post', id: s.id }, 'post.moderated', s);
    return s;
  });
}

export async function react(
  db: Db,
  userId: string,
  postId: string,
  type: ReactionType,
): Promise<void> {
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ created_at: Date; author_id: string }>(
      `INSERT INTO reactions (post_id, user_id, type) VALUES ($1, $2, $3)
       RETURNING created_at, (SELECT author_id FROM posts WHERE id = $1) AS author_id`,
      [postId, userId, type],
    );
    await emit(
      tx,
      { type: 'reaction', id: pairAggregateId('reaction', postId, userId, type) },
      'reaction.added',
      {
        postId,
        postAuthorId: rows[0]!.author_id,
        userId,
        type,
        createdAt: rows[0]!.created_at.toISOString(),
      },
    );
  });
}

export async function unreact(
  db: Db,
  userId: string,
  postId: string,
  type: ReactionType,
): Promise<void> {
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ author_id: string }>(
      `DELETE FROM reactions WHERE post_id = $1 AND user_id = $2 AND type = $3
       RETURNING (SELECT author_id FROM posts WHERE id = $1) AS author_id`,
      [postId, userId, type],
    );
    await emit(
      tx,
      { type: 'reaction', id: pairAggregateId('reaction', postId, userId, type) },
      'reaction.removed',
      {
        postId,
        postAuthorId: rows[0]!.author_id,
        userId,
        type,
      },
    );
  });
}
