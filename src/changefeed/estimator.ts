import { intersectRange, overlapsRange } from '../projections/feed-range.ts';
import {
  type FeedRange,
  isProjectionError,
  type ProjectionContainer,
} from '../projections/port.ts';

/**
 * Changes waiting in one lease's range after its continuation, from the store's cheap lag
 * estimate (one change read per lease on Cosmos DB, as the .NET estimator does), capped at
 * `max`. A range split since the lease was written is estimated as the sum of its children
 * from the same continuation, until its owner hands the lease over.
 */
export async function estimateLeaseLag(
  container: ProjectionContainer,
  range: FeedRange,
  continuation: string | null,
  startTime: Date | undefined,
  max: number,
): Promise<number> {
  try {
    return await container.changeLag(range, continuation, { startTime, max });
  } catch (err) {
    if (!isProjectionError(err, 'gone')) throw err;
  }
  let total = 0;
  for (const r of await container.feedRanges()) {
    if (total >= max || !overlapsRange(r, range)) continue;
    const part = intersectRange(range, r, `${r.min || '00'}-${r.max}`);
    total += await container.changeLag(part, continuation, { startTime, max: max - total });
  }
  return Math.min(total, max);
}
