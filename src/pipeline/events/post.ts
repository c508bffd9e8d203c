import { asWorker } from '../../canonical/session.ts';
import type { OutboxEvent, PostSnapshot } from '../../outbox/events.ts';
import { CONTAINERS, type PostDoc, SOFT_DELETE_TTL_SECONDS } from '../../readmodel/documents.ts';
import { upsertIfNewer } from '../../readmodel/guarded-write.ts';
import type { Queryable } from '../../sql/db.ts';
import type { PipelineContext } from '../context.ts';
import { refreshUserCounters } from './user-counters.ts';

/** The posts_v2 document for a post snapshot: anything not published is a soft delete. */
export function postDoc(p: PostSnapshot): PostDoc {
  const doc: PostDoc = {
    id: p.id,
    postId: p.id,
    authorId: p.authorId,
    text: p.text,
    tags: p.tags,
    status: p.status,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    sourceVersion: p.version,
  };
  // Soft delete (not a delete) so the posts_v2 change feed sees the removal and fan-out
  // takes the post out of every feed.
  if (p.status !== 'published') Object.assign(doc, { deleted: true, ttl: SOFT_DELETE_TTL_SECONDS });
  return doc;
}

/**
 * Mirrors a post for admin search; an older snapshot never overwrites a newer one, and a
 * deleted account's posts (purged by user.deleted) are not mirrored again.
 */
export async function mirrorPost(tx: Queryable, p: PostSnapshot): Promise<void> {
  await tx.query(
    `INSERT INTO posts_admin_mirror (post_id, author_id, text, tags, status, source_version, created_at, updated_at)
     SELECT $1::uuid, $2::uuid, $3::text, $4::text[], $5::text, $6::int, $7::timestamptz, $8::timestamptz
      WHERE EXISTS (SELECT 1 FROM users WHERE id = $2 AND deleted_at IS NULL)
     ON CONFLICT (post_id) DO UPDATE
        SET author_id = EXCLUDED.author_id, text = EXCLUDED.text, tags = EXCLUDED.tags,
            status = EXCLUDED.status, source_version = EXCLUDED.source_version,
            created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, mirrored_at = now()
      WHERE posts_admin_mirror.source_version < EXCLUDED.source_version`,
    [p.id, p.authorId, p.text, p.tags, p.status, p.version, p.createdAt, p.updatedAt],
  );
}

/** post.created / updated / deleted / moderated: posts_v2, the admin mirror, the author's post count. */
export async function applyPostEvent(
  ctx: PipelineContext,
  event: OutboxEvent,
  post: PostSnapshot,
): Promise<void> {
  await upsertIfNewer(ctx.store.container(CONTAINERS.posts), postDoc(post));
  await asWorker(ctx.db, (tx) => mirrorPost(tx, post));
  await refreshUserCounters(ctx, [{ userId: post.authorId, metric: 'posts' }]);
  ctx.log.debug({ eventId: event.id, postId: post.id, version: post.version }, 'post projected');
}
