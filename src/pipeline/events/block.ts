import type { EventPayloads } from '../../events/catalogue.ts';
import type { PipelineContext } from '../context.ts';
import { syncFollowFeed } from './feed.ts';

/**
 * block.created / removed: each side's posts leave (or, once unblocked and still
 * following, come back to) the other's feed. The follows a block severs arrive as their
 * own follow.removed events, which handle the counters.
 */
export async function applyBlockEvent(
  ctx: PipelineContext,
  p: EventPayloads['block.created'] | EventPayloads['block.removed'],
): Promise<void> {
  await syncFollowFeed(ctx, p.blockedId, p.blockerId);
  await syncFollowFeed(ctx, p.blockerId, p.blockedId);
}
