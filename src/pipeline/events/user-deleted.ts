import { asWorker } from '../../canonical/session.ts';
import type { EventPayloads } from '../../outbox/events.ts';
import { recomputeCounter } from '../../readmodel/counters.ts';
import {
  CONTAINERS,
  type CounterMetric,
  counterId,
  type PostDoc,
  type PublicProfileDoc,
  REACTION_METRIC,
  type ReactionDoc,
  reactionDocId,
  SOFT_DELETE_TTL_SECONDS,
} from '../../readmodel/documents.ts';
import { upsertIfNewer } from '../../readmodel/guarded-write.ts';
import type { PipelineContext } from '../context.ts';
import { refreshUserCounters } from './user-counters.ts';
import { deleteItems, deleteWhere, forEachLimited } from './util.ts';

/**
 * Version of the tombstones an account deletion writes: above any canonical version
 * (those are PostgreSQL integers), so a late event for a deleted account's post, profile
 * or reaction is stale and cannot bring the document back.
 */
export const TOMBSTONE_VERSION = 2_147_483_647;

const tombstone = {
  deleted: true,
  ttl: SOFT_DELETE_TTL_SECONDS,
  sourceVersion: TOMBSTONE_VERSION,
} as const;

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

  const profile: PublicProfileDoc = {
    id: p.userId,
    userId: p.userId,
    displayName: '',
    bio: null,
    avatarUrl: null,
    privacyLevel: 'private',
    updatedAt: p.deletedAt,
    ...tombstone,
  };
  await upsertIfNewer(store.container(CONTAINERS.publicProfiles), profile);

  const posts = store.container(CONTAINERS.posts);
  await forEachLimited(p.postIds, 8, async (postId) => {
    const current = (await posts.read<PostDoc>(postId, postId)).resource;
    const doc: PostDoc = {
      id: postId,
      postId,
      authorId: p.userId,
      text: current?.text ?? '',
      tags: current?.tags ?? [],
      createdAt: current?.createdAt ?? p.deletedAt,
      updatedAt: p.deletedAt,
      status: 'deleted',
      ...tombstone,
    };
    await upsertIfNewer(posts, doc);
  });
  await asWorker(ctx.db, (tx) =>
    tx.query('DELETE FROM posts_admin_mirror WHERE author_id = $1 OR post_id = ANY($2::uuid[])', [
      p.userId,
      p.postIds,
    ]),
  );

  const reactions = store.container(CONTAINERS.reactions);
  await forEachLimited(p.reactions, 8, async (r) => {
    const doc: ReactionDoc = {
      id: reactionDocId(p.userId, r.type),
      postId: r.postId,
      userId: p.userId,
      type: r.type,
      createdAt: p.deletedAt,
      ...tombstone,
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
