import { relationshipState } from '../../canonical/tables/follows.ts';
import { recentPublishedPosts } from '../../canonical/tables/posts.ts';
import { forEachLimited } from '../../lib/concurrency.ts';
import { feedItemFor, postDoc } from '../../readmodel/builders.ts';
import { CONTAINERS } from '../../readmodel/documents.ts';
import { upsertIfNewer } from '../../readmodel/guarded-write.ts';
import type { PipelineContext } from '../context.ts';
import { trimFeed } from '../feed-trim.ts';
import { deleteWhere } from './util.ts';

/** How many of a followee's recent posts a new follow brings into the follower's feed. */
export const BACKFILL_POSTS = 20;

/**
 * Brings one follower's feed in line with the canonical relationship to one author: if
 * the follower follows the author (no block either way, no mute, both accounts live) the
 * author's recent posts are backfilled; otherwise every item by the author leaves the
 * feed. Deciding from the current canonical state rather than from the event makes every
 * relationship event idempotent and order-insensitive: replays converge to the truth.
 */
export async function syncFollowFeed(
  ctx: PipelineContext,
  followerId: string,
  authorId: string,
): Promise<void> {
  const state = await relationshipState(ctx.db, followerId, authorId);
  const visible = state.following && !state.blocked && !state.muted && state.bothActive;
  if (!visible) {
    await removeAuthorFromFeed(ctx, followerId, authorId);
    return;
  }
  // Authors above the fan-out threshold are merged into feeds at read time, not copied.
  if (state.followeeFollowers > ctx.fanoutFollowerThreshold) return;
  await backfillFeed(ctx, followerId, authorId);
}

export async function removeAuthorFromFeed(
  ctx: PipelineContext,
  recipientId: string,
  authorId: string,
): Promise<number> {
  return deleteWhere(ctx.store.container(CONTAINERS.userFeed), recipientId, [
    { field: 'authorId', value: authorId },
  ]);
}

async function backfillFeed(
  ctx: PipelineContext,
  recipientId: string,
  authorId: string,
): Promise<void> {
  const posts = await recentPublishedPosts(ctx.readDb, authorId, BACKFILL_POSTS);
  if (posts.length === 0) return;
  const feed = ctx.store.container(CONTAINERS.userFeed);
  await forEachLimited(posts, 8, async (p) => {
    await upsertIfNewer(feed, feedItemFor(recipientId, postDoc(p)));
  });
  await trimFeed(feed, recipientId, ctx.feedCap);
}
