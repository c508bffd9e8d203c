import type { QueryIterator } from '@azure/cosmos';

/**
 * @azure/cosmos 4.x fetches a query plan (a gateway metadata request, throttled apart from
 * the data) for every query iterator, even one given its partition key, where the plan is
 * never used: a single-partition query runs as sent, and the SDK consults the plan only
 * when the server refuses the query as cross-partition. Seeding the iterator's (private)
 * plan promise with a marker skips that request; should the server ever ask for the plan,
 * the marker surfaces as PlanNeeded and the caller runs the query again with a plan.
 * If the SDK renames the field, the seed is simply not applied (the plan is fetched as
 * before); cosmos-recorded.test.ts counts the requests and notices.
 */
export class PlanNeeded extends Error {
  constructor() {
    super('the query needs a query plan');
    this.name = 'PlanNeeded';
  }
}

export function withoutQueryPlan<T>(it: QueryIterator<T>): QueryIterator<T> {
  const internals = it as unknown as Record<string, unknown>;
  if (Object.hasOwn(internals, 'queryPlanPromise') && internals.queryPlanPromise === undefined)
    internals.queryPlanPromise = Promise.resolve(new PlanNeeded());
  return it;
}

export const isPlanNeeded = (err: unknown): boolean =>
  err instanceof PlanNeeded ||
  (err instanceof Error && (err as { cause?: unknown }).cause instanceof PlanNeeded);
