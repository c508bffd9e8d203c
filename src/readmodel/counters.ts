import { asWorker } from '../canonical/session.ts';
import type { ReactionType } from '../events/catalogue.ts';
import type { ProjectionContainer } from '../projections/port.ts';
import type { Db } from '../sql/db.ts';
import { type CounterDoc, type CounterMetric, counterId, REACTION_METRIC } from './documents.ts';

const REACTION_OF_METRIC = Object.fromEntries(
  Object.entries(REACTION_METRIC).map(([type, metric]) => [metric, type]),
) as Record<string, ReactionType>;

/** The canonical count behind a counter: the truth a counter document caches. */
export async function canonicalCount(
  db: Db,
  subjectId: string,
  metric: CounterMetric,
): Promise<number> {
  const reaction = REACTION_OF_METRIC[metric];
  const [sql, params]: [string, unknown[]] = reaction
    ? [
        'SELECT count(*)::int AS n FROM reactions WHERE post_id = $1 AND type = $2',
        [subjectId, reaction],
      ]
    : metric === 'followers'
      ? // Trigger-kept in the same transaction as follows (0005): O(1) even for celebrities.
        [
          'SELECT COALESCE((SELECT followers FROM follower_counts WHERE user_id = $1), 0) AS n',
          [subjectId],
        ]
      : metric === 'following'
        ? ['SELECT count(*)::int AS n FROM follows WHERE follower_id = $1', [subjectId]]
        : [
            `SELECT count(*)::int AS n FROM posts WHERE author_id = $1 AND status = 'published'`,
            [subjectId],
          ];
  return asWorker(db, async (tx) => (await tx.query<{ n: number }>(sql, params)).rows[0]!.n);
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
