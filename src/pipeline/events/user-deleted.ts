import { asWorker } from '../../canonical/session.ts';
import { purgeMirroredPosts } from '../../canonical/tables/posts-admin-mirror.ts';
import type { EventPayloads } from '../../events/catalogue.ts';
import { forEachLimited } from '../../lib/concurrency.ts';
import { postTombstone, profileTombstone, TOMBSTONE } from '../../readmodel/builders.ts';
import { recomputeCounter } from '../../readmodel/counters.ts';
import {
  CONTAINERS,
  type CounterMetric,
  counterId,
  type PostDoc,
  REACTION_METRIC,
  type ReactionDoc,
  reactionDocId,
} from '../../readmodel/documents.ts';
import { upsertIfNewer } from '../../readmodel/guarded-write.ts';
import type { PipelineContext } from '../context.ts';
import { refreshUserCounters } from './user-counters.ts';
import { deleteItems, deleteWhere } from './util.ts';

/**
 * user.deleted: purge what was built from the account. Its own feed, notifications,
 * counters go; its profile, posts and reactions become tombstones (soft deletes, so the
 * change feeds remove its posts from other feeds and recount reactions); the counters it
 * contributed to are recomputed. The payload carries the ids, since canonical rows are gone.
 */
export async function applyUserDeleted(
  ctx: PipelineContext,
  p: EventPayloads['user.deleted'],
): Promise<void> {
  const { store } = ctx;
  const counters = store.container(CONTAINERS.counters);

  await deleteWhere(store.container(CONTAINERS.userFeed), p.userId);
  await deleteWhere(store.container(CONTAINERS.notifications), p.userId);
  const own: CounterMetric[] = ['followers', 'following', 'posts'];
  await deleteItems(
    counters,
    p.userId,
    own.map((m) => counterId(p.userId, m)),
  );

  await upsertIfNewer(
    store.container(CONTAINERS.publicProfiles),
    profileTombstone(p.userId, p.deletedAt),
  );

  const posts = store.container(CONTAINERS.posts);
  await forEachLimited(p.postIds, 8, async (postId) => {
    const current = (await posts.read<PostDoc>(postId, postId)).resource;
    const doc = postTombstone(
      {
        postId,
        authorId: p.userId,
        text: current?.text ?? '',
        tags: current?.tags ?? [],
        createdAt: current?.createdAt ?? p.deletedAt,
      },
      p.deletedAt,
    );
    await upsertIfNewer(posts, doc);
  });
  await asWorker(ctx.db, (tx) => purgeMirroredPosts(tx, p.userId, p.postIds));

  const reactions = store.container(CONTAINERS.reactions);
  await forEachLimited(p.reactions, 8, async (r) => {
    const doc: ReactionDoc = {
      id: reactionDocId(p.userId, r.type),
      postId: r.postId,
      userId: p.userId,
      type: r.type,
      createdAt: p.deletedAt,
      ...TOMBSTONE,
    };
    await upsertIfNewer(reactions, doc);
  });

  const postCounts = [...new Map(p.reactions.map((r) => [`${r.postId}:${r.type}`, r])).values()];
  await forEachLimited(postCounts, 8, async (r) => {
    await recomputeCounter(ctx.db, counters, r.postId, REACTION_METRIC[r.type]);
  });
  await refreshUserCounters(ctx, [
    ...p.followerIds.map((userId) => ({ userId, metric: 'following' as const })),
    ...p.followeeIds.map((userId) => ({ userId, metric: 'followers' as const })),
  ]);
}
