import type { ReactionType } from '../../events/catalogue.ts';
import { recomputeCounter } from '../../readmodel/counters.ts';
import {
  CONTAINERS,
  counterId,
  REACTION_METRIC,
  type ReactionDoc,
} from '../../readmodel/documents.ts';
import { refreshPostCounts } from '../../readmodel/post-writes.ts';
import type { PipelineContext } from '../context.ts';

/**
 * Recomputes `${postId}:${metric}` from canonical for every (post, type) a batch touched,
 * once per batch, and the post's counts on its posts_v2 document (what feeds and post reads
 * show), once per post. Replay-safe: a recount gives the same number however often it runs.
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
  const posts = ctx.store.container(CONTAINERS.posts);
  for (const postId of new Set(reactions.map((r) => r.postId)))
    await refreshPostCounts(ctx.db, posts, postId);
  return todo.size;
}
