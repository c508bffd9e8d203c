import { asWorker } from '../../canonical/session.ts';
import { mirrorPost } from '../../canonical/tables/posts-admin-mirror.ts';
import type { AppEvent, PostSnapshot } from '../../events/catalogue.ts';
import { CONTAINERS } from '../../readmodel/documents.ts';
import { upsertPostDoc } from '../../readmodel/post-writes.ts';
import type { PipelineContext } from '../context.ts';
import { writePostTags } from './post-tags.ts';
import { refreshUserCounters } from './user-counters.ts';

/** post.created / updated / deleted / moderated / archived / restored: posts_v2, its tag index, the admin mirror, the author's post count. */
export async function applyPostEvent(
  ctx: PipelineContext,
  event: AppEvent,
  post: PostSnapshot,
): Promise<void> {
  await upsertPostDoc(ctx.store.container(CONTAINERS.posts), post, ctx.db);
  await writePostTags(ctx.store, post);
  await asWorker(ctx.db, (tx) => mirrorPost(tx, post));
  await refreshUserCounters(ctx, [{ userId: post.authorId, metric: 'posts' }]);
  ctx.log.debug({ eventId: event.id, postId: post.id, version: post.version }, 'post projected');
}
