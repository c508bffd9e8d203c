import { liveUsers } from '../../canonical/tables/users.ts';
import type { AppEvent, EventPayloads } from '../../events/catalogue.ts';
import { followNotification } from '../../readmodel/builders.ts';
import { CONTAINERS } from '../../readmodel/documents.ts';
import type { PipelineContext } from '../context.ts';
import { syncFollowFeed } from './feed.ts';
import { refreshUserCounters } from './user-counters.ts';
import { createIfAbsent } from './util.ts';

const recomputeFollowCounters = (ctx: PipelineContext, followerId: string, followeeId: string) =>
  refreshUserCounters(ctx, [
    { userId: followeeId, metric: 'followers' },
    { userId: followerId, metric: 'following' },
  ]);

/** follow.created: counters, a notification to the followee, backfill of the followee's recent posts. */
export async function applyFollowCreated(
  ctx: PipelineContext,
  event: AppEvent,
  p: EventPayloads['follow.created'],
): Promise<void> {
  await recomputeFollowCounters(ctx, p.followerId, p.followeeId);
  const note = followNotification(p, event.aggregateVersion);
  // Not into a deleted account's purged notifications (a replay after user.deleted).
  const live = await liveUsers(ctx.db, [p.followeeId]);
  if (live.has(p.followeeId))
    await createIfAbsent(ctx.store.container(CONTAINERS.notifications), note);
  await syncFollowFeed(ctx, p.followerId, p.followeeId);
}

/** follow.removed: counters, and the followee's posts leave the follower's feed. */
export async function applyFollowRemoved(
  ctx: PipelineContext,
  p: EventPayloads['follow.removed'],
): Promise<void> {
  await recomputeFollowCounters(ctx, p.followerId, p.followeeId);
  await syncFollowFeed(ctx, p.followerId, p.followeeId);
}
