import { asWorker } from '../canonical/session.ts';
import { countFollowers, countFollowing } from '../canonical/tables/follows.ts';
import { countPublishedPosts } from '../canonical/tables/posts.ts';
import { countReactions } from '../canonical/tables/reactions.ts';
import type { ReactionType } from '../events/catalogue.ts';
import type { ProjectionContainer } from '../projections/port.ts';
import type { Db } from '../sql/db.ts';
import { type CounterDoc, type CounterMetric, counterId, REACTION_METRIC } from './documents.ts';

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
 * double-count). Also used on read when a counter has expired (90-day TTL).
 */
export async function recomputeCounter(
  db: Db,
  counters: ProjectionContainer,
  subjectId: string,
  metric: CounterMetric,
): Promise<number> {
  const value = await canonicalCount(db, subjectId, metric);
  const doc: CounterDoc = {
    id: counterId(subjectId, metric),
    subjectId,
    metric,
    value,
    updatedAt: new Date().toISOString(),
  };
  await counters.upsert(doc);
  return value;
}
