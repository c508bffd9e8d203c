import type { ObjectStore } from '../archive/object-store.ts';
import type { Logger } from '../observability/logger.ts';
import type { ProjectionStore } from '../projections/port.ts';
import type { Db } from '../sql/db.ts';

/** What every use case gets: the canonical store (always under an RLS session) and the projections. */
export interface DomainContext {
  /** Canonical primary, as the API's login role: every use case runs under an RLS session. */
  db: Db;
  /**
   * Canonical as the worker role, for what a read recomputes from every row (counters,
   * reaction counts). A separate pool where the process logs in per role (docs/canonical.md).
   */
  workerDb: Db;
  store: ProjectionStore;
  /** Authors with more followers than this are not fanned out: their posts are merged in at read time. */
  fanoutFollowerThreshold: number;
  log: Logger;
  /** Cold storage, where archived posts' text lives (absent: archived posts read as not found). */
  archive?: ObjectStore;
}
