import { asWorker } from '../canonical/session.ts';
import { countFollowers, countFollowing } from '../canonical/tables/follows.ts';
import { countPublishedPosts } from '../canonical/tables/posts.ts';
import { countReactions, reactionCountsOf } from '../canonical/tables/reactions.ts';
import type { ReactionType } from '../events/catalogue.ts';
import type { ProjectionContainer } from '../projections/port.ts';
import type { Db } from '../sql/db.ts';
import { counterDoc, zeroCounts } from './builders.ts';
import {
  type CounterDoc,
  type CounterMetric,
  counterId,
  REACTION_METRIC,
  type ReactionCounts,
} from './documents.ts';
import { recomputeIfUnchanged } from './guarded-write.ts';

const REACTION_OF_METRIC = Object.fromEntries(
  Object.entries(REACTION_METRIC).map(([type, metric]) => [metric, type]),
) as Record<string, ReactionType>;

/** The canonical count behind a counter (queried by the canonical tables): the truth a counter document caches. */
export async function canonicalCount(
  db: Db,
  subjectId: string,
  metric: CounterMetric,
): Promise<number> {
  const reaction = REACTION_OF_METRIC[metric];
  return asWorker(db, (tx) =>
    reaction
      ? countReactions(tx, subjectId, reaction)
      : metric === 'followers'
        ? countFollowers(tx, subjectId)
        : metric === 'following'
          ? countFollowing(tx, subjectId)
          : countPublishedPosts(tx, subjectId),
  );
}

/**
 * Recomputes a counter from canonical data and stores it. Replay-safe by construction:
 * applying the same event twice recomputes the same number (a plain increment would
 * double-count), and etag-guarded (recomputeIfUnchanged): a recompute that read canonical
 * before a newer one wrote cannot overwrite it. Also used on read when a counter has
 * expired (90-day TTL).
 */
export async function recomputeCounter(
  db: Db,
  counters: ProjectionContainer,
  subjectId: string,
  metric: CounterMetric,
): Promise<number> {
  const doc = await recomputeIfUnchanged<CounterDoc>(
    counters,
    counterId(subjectId, metric),
    subjectId,
    async () => counterDoc(subjectId, metric, await canonicalCount(db, subjectId, metric)),
  );
  return doc!.value;
}

/** Reaction counts of many posts from canonical, in one grouped query. */
export async function canonicalReactionCounts(
  db: Db,
  postIds: readonly string[],
): Promise<Map<string, ReactionCounts>> {
  const out = new Map(postIds.map((id) => [id, zeroCounts()]));
  if (postIds.length === 0) return out;
  const rows = await asWorker(db, (tx) => reactionCountsOf(tx, [...postIds]));
  for (const r of rows) {
    const counts = out.get(r.postId);
    if (counts && Object.hasOwn(counts, r.type)) counts[r.type] = r.n;
  }
  return out;
}
