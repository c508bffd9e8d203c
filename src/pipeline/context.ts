import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ProjectionStore } from '../projections/port.ts';
import type { Db } from '../sql/db.ts';

/** What every pipeline handler gets: both stores, tuning, and observability. */
export interface PipelineContext {
  /** Canonical primary. */
  db: Db;
  /** Canonical replica for heavy reads (follower lists); the primary when none. */
  readDb: Db;
  store: ProjectionStore;
  /** Authors with more followers than this are not fanned out (merged at read time). */
  fanoutFollowerThreshold: number;
  /** Feed items kept per recipient. */
  feedCap: number;
  log: Logger;
  metrics: Metrics;
}
