import { asWorker } from '../canonical/session.ts';
import { reactionCountsOf } from '../canonical/tables/reactions.ts';
import { REACTION_TYPES, type ReactionType } from '../events/catalogue.ts';
import type { BulkOp } from '../projections/port.ts';
import { recomputeCounter } from '../readmodel/counters.ts';
import {
  CONTAINERS,
  type CounterDoc,
  type CounterMetric,
  counterId,
  REACTION_METRIC,
} from '../readmodel/documents.ts';
import type { DomainContext } from './context.ts';

export type ReactionCounts = Record<ReactionType, number>;
export interface ProfileCounts {
  followers: number;
  following: number;
  posts: number;
}

const zeroCounts = (): ReactionCounts =>
  Object.fromEntries(REACTION_TYPES.map((t) => [t, 0])) as ReactionCounts;

/**
 * Reaction counts for many posts from the counters container in one read. Counters that are
 * missing (never written, or expired by their 90-day TTL) are recomputed from canonical in
 * one grouped query and written back, like recomputeCounter does for a single one.
 */
export async function postCounts(
  ctx: DomainContext,
  postIds: string[],
): Promise<Map<string, ReactionCounts>> {
  const out = new Map<string, ReactionCounts>(postIds.map((id) => [id, zeroCounts()]));
  if (postIds.length === 0) return out;
  const counters = ctx.store.container(CONTAINERS.counters);
  const keys = postIds.flatMap((postId) =>
    REACTION_TYPES.map((t) => ({
      id: counterId(postId, REACTION_METRIC[t]),
      partitionKey: postId,
    })),
  );
  const page = await counters.readMany<CounterDoc>(keys);
  const found = new Set<string>();
  const typeOf = Object.fromEntries(REACTION_TYPES.map((t) => [REACTION_METRIC[t], t])) as Record<
    string,
    ReactionType
  >;
  for (const doc of page.items) {
    const type = typeOf[doc.metric];
    const counts = out.get(doc.subjectId);
    if (!type || !counts) continue;
    counts[type] = Number(doc.value) || 0;
    found.add(doc.id);
  }
  const missing = keys.filter((k) => !found.has(k.id));
  if (missing.length === 0) return out;

  const missingPosts = [...new Set(missing.map((k) => k.partitionKey))];
  const rows = await asWorker(ctx.db, (tx) => reactionCountsOf(tx, missingPosts));
  const truth = new Map(rows.map((r) => [counterId(r.postId, REACTION_METRIC[r.type]), r.n]));
  const now = new Date().toISOString();
  const ops: BulkOp[] = missing.map((k) => {
    const metric = k.id.slice(k.partitionKey.length + 1) as CounterMetric;
    const value = truth.get(k.id) ?? 0;
    const type = typeOf[metric];
    const counts = out.get(k.partitionKey);
    if (type && counts) counts[type] = value;
    const doc: CounterDoc = { id: k.id, subjectId: k.partitionKey, metric, value, updatedAt: now };
    return { op: 'upsert', doc };
  });
  try {
    await counters.bulk(ops);
  } catch (err) {
    ctx.log.warn({ err }, 'could not store recomputed counters');
  }
  return out;
}

/** Follower, following and post counts of a user, recomputing any that are missing. */
export async function profileCounts(ctx: DomainContext, userId: string): Promise<ProfileCounts> {
  const counters = ctx.store.container(CONTAINERS.counters);
  const metrics = ['followers', 'following', 'posts'] as const;
  const page = await counters.readMany<CounterDoc>(
    metrics.map((m) => ({ id: counterId(userId, m), partitionKey: userId })),
  );
  const result: ProfileCounts = { followers: 0, following: 0, posts: 0 };
  for (const m of metrics) {
    const doc = page.items.find((d) => d.id === counterId(userId, m));
    result[m] = doc ? Number(doc.value) || 0 : await recomputeCounter(ctx.db, counters, userId, m);
  }
  return result;
}
