import { liveUsers } from '../../canonical/tables/users.ts';
import { recomputeCounter } from '../../readmodel/counters.ts';
import { CONTAINERS, type CounterMetric, counterId } from '../../readmodel/documents.ts';
import type { PipelineContext } from '../context.ts';

/**
 * Recomputes per-user counters from canonical data; a deleted account's counters are
 * dropped instead, so a late or replayed event cannot bring back what user.deleted purged.
 */
export async function refreshUserCounters(
  ctx: PipelineContext,
  wanted: { userId: string; metric: CounterMetric }[],
): Promise<void> {
  const live = await liveUsers(
    ctx.db,
    wanted.map((w) => w.userId),
  );
  const counters = ctx.store.container(CONTAINERS.counters);
  for (const { userId, metric } of wanted) {
    if (live.has(userId)) await recomputeCounter(ctx.db, counters, userId, metric);
    else await counters.delete(counterId(userId, metric), userId);
  }
}
