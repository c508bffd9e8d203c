import type { ReactionType } from '../../events/catalogue.ts';
import { recomputeCounter } from '../../readmodel/counters.ts';
import {
  CONTAINERS,
  counterId,
  REACTION_METRIC,
  type ReactionDoc,
} from '../../readmodel/documents.ts';
import type { PipelineContext } from '../context.ts';

/**
 * Recomputes `${postId}:${metric}` from canonical for every (post, type) a batch touched,
 * once per batch. Replay-safe: a recount gives the same number however often it runs.
 * Counts come from the primary, not the replica, so a lagging replica cannot write an old count.
 */
export async function recomputeReactionCounters(
  ctx: PipelineContext,
  reactions: ReactionDoc[],
): Promise<number> {
  const todo = new Map<string, { postId: string; type: ReactionType }>();
  for (const r of reactions)
    todo.set(counterId(r.postId, REACTION_METRIC[r.type]), { postId: r.postId, type: r.type });
  const counters = ctx.store.container(CONTAINERS.counters);
  for (const { postId, type } of todo.values()) {
    await recomputeCounter(ctx.db, counters, postId, REACTION_METRIC[type]);
  }
  return todo.size;
}
