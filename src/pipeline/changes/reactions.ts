import type { Stored } from '../../projections/port.ts';
import { REACTION_METRIC, type ReactionDoc } from '../../readmodel/documents.ts';
import type { PipelineContext } from '../context.ts';
import { recomputeReactionCounters } from './reaction-counters.ts';
import { notifyReaction } from './reaction-notifications.ts';

const isReaction = (d: Stored): d is Stored<ReactionDoc> =>
  typeof d.postId === 'string' &&
  typeof d.userId === 'string' &&
  typeof d.type === 'string' &&
  Object.hasOwn(REACTION_METRIC, d.type);

/** reactions change feed → counters (recomputed from canonical) and notifications to post authors. */
export function createReactionHandler(ctx: PipelineContext) {
  return async function handleReactions(items: Stored[]): Promise<void> {
    const reactions: ReactionDoc[] = [];
    for (const item of items) {
      if (isReaction(item)) reactions.push(item);
      else
        ctx.log.warn({ id: item.id }, 'reactions change that is not a reaction document; skipped');
    }
    await recomputeReactionCounters(ctx, reactions);
    for (const r of reactions) await notifyReaction(ctx, r);
  };
}
