import { outboxCounts } from '../outbox/status.ts';
import type { Db } from '../sql/db.ts';
import type { Metrics } from './metrics.ts';
import { withTimeout } from './timeout.ts';

/** Lag of one change-feed lease, as the processor's estimator reports it. */
export interface LeaseLag {
  container: string;
  lease: string;
  /** Changes not yet processed (estimated). */
  lag: number;
}

export interface CollectorSources {
  /** Canonical primary: outbox gauges and the "primary" pool. */
  db: Db;
  /** Canonical replica; its pool is reported as "replica" when it is a different Db. */
  readDb?: Db;
  /** Other pools to report, by name (e.g. the embedded projection store on a server). */
  pools?: Record<string, Pick<Db, 'poolStats'>>;
  /** Change-feed estimator (present in processes that run the workers). */
  estimateLag?: () => Promise<LeaseLag[]>;
  /** Per-collector time limit, so a hung database cannot hang a scrape. */
  timeoutMs?: number;
}

/**
 * Registers the scrape-time refreshers: outbox counts from canonical, pool sizes, and
 * change-feed lag per lease. Counters and histograms fed by events (outbox lag,
 * change-feed delay, request charge, HTTP latency) are recorded where they happen.
 */
export function registerCollectors(metrics: Metrics, src: CollectorSources): void {
  const timeoutMs = src.timeoutMs ?? 2_000;

  metrics.addCollector('outbox', async () => {
    const c = await withTimeout(outboxCounts(src.db), timeoutMs, 'outbox counts');
    metrics.outboxPending.set(c.pending);
    metrics.outboxFailed.set(c.failed);
    metrics.outboxDeadLettered.set(c.deadLettered);
    metrics.outboxOldestPendingAge.set(c.oldestPendingAgeSeconds);
  });

  const pools: Record<string, Pick<Db, 'poolStats'>> = { primary: src.db, ...src.pools };
  if (src.readDb && src.readDb !== src.db) pools.replica = src.readDb;
  metrics.addCollector('pools', async () => {
    for (const [pool, db] of Object.entries(pools)) {
      const s = db.poolStats();
      metrics.poolConnections.set({ pool, state: 'total' }, s.total);
      metrics.poolConnections.set({ pool, state: 'idle' }, s.idle);
      metrics.poolConnections.set({ pool, state: 'waiting' }, s.waiting);
    }
  });

  const estimateLag = src.estimateLag;
  if (estimateLag) {
    metrics.addCollector('changefeed', async () => {
      const lags = await withTimeout(estimateLag(), timeoutMs, 'change-feed estimator');
      // Leases move between hosts: drop series for leases this process no longer reports.
      metrics.changeFeedLag.reset();
      for (const l of lags)
        metrics.changeFeedLag.set({ container: l.container, lease: l.lease }, l.lag);
    });
  }
}
