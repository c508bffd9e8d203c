import { isProjectionError } from '../projections/port.ts';
import { zeroCounts } from '../readmodel/builders.ts';
import {
  canonicalCount,
  canonicalReactionCounts,
  recomputeCounter,
} from '../readmodel/counters.ts';
import {
  CONTAINERS,
  type CounterDoc,
  counterId,
  type ReactionCounts,
} from '../readmodel/documents.ts';
import type { DomainContext } from './context.ts';

export type { ReactionCounts };
export interface ProfileCounts {
  followers: number;
  following: number;
  posts: number;
}

/**
 * Reaction counts of posts as shown: the counts their posts_v2 documents carry (kept by the
 * reaction pipeline), so a page of posts needs no counter reads. Posts without them (read
 * from canonical, or a document written back after a purge) are counted in canonical, all
 * in one grouped query.
 */
export async function postCounts(
  ctx: DomainContext,
  posts: readonly { id: string; counts?: ReactionCounts | undefined }[],
): Promise<Map<string, ReactionCounts>> {
  const out = new Map<string, ReactionCounts>();
  const missing: string[] = [];
  for (const p of posts) {
    if (p.counts) out.set(p.id, { ...zeroCounts(), ...p.counts });
    else missing.push(p.id);
  }
  if (missing.length > 0)
    for (const [id, counts] of await canonicalReactionCounts(ctx.workerDb, missing))
      out.set(id, counts);
  return out;
}

/**
 * Follower, following and post counts of a user, recomputing any that are missing. They
 * decorate an answer (often the reply to a committed write): while the projection store is
 * unavailable they come from canonical instead of failing the request.
 */
export async function profileCounts(ctx: DomainContext, userId: string): Promise<ProfileCounts> {
  const counters = ctx.store.container(CONTAINERS.counters);
  const metrics = ['followers', 'following', 'posts'] as const;
  let items: CounterDoc[] | undefined;
  try {
    items = (
      await counters.readMany<CounterDoc>(
        metrics.map((m) => ({ id: counterId(userId, m), partitionKey: userId })),
      )
    ).items;
  } catch (err) {
    if (!isProjectionError(err, 'unavailable') && !isProjectionError(err, 'throttled')) throw err;
  }
  const result: ProfileCounts = { followers: 0, following: 0, posts: 0 };
  for (const m of metrics) {
    const doc = items?.find((d) => d.id === counterId(userId, m));
    result[m] = doc
      ? Number(doc.value) || 0
      : items === undefined
        ? await canonicalCount(ctx.workerDb, userId, m)
        : await recomputeCounter(ctx.workerDb, counters, userId, m);
  }
  return result;
}
