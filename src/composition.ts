import type { ObjectStore } from './archive/object-store.ts';
import { type CanonicalDbs, connectCanonical } from './canonical/connect.ts';
import { migrate } from './canonical/migrations.ts';
import { type Config, loadConfig } from './config/config.ts';
import type { DomainContext } from './domain/context.ts';
import type { CircuitBreaker } from './observability/circuit-breaker.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { Metrics } from './observability/metrics.ts';
import type { PipelineContext } from './pipeline/context.ts';
import { boundedStore } from './projections/bounded.ts';
import { createProjectionStore } from './projections/connect.ts';
import type { ProjectionStore } from './projections/port.ts';
import { ReadCache } from './projections/read-cache.ts';
import { sessionScoped } from './projections/session.ts';
import { containerDefs, sharedAutoscaleMaxThroughput } from './readmodel/containers.ts';
import { CONTAINERS } from './readmodel/documents.ts';
import type { Db } from './sql/db.ts';

export interface ContextParts {
  /** workerDb: the workers' pool (the primary when absent, e.g. one embedded connection). */
  canonical: Pick<CanonicalDbs, 'db' | 'readDb'> & { workerDb?: Db };
  store: ProjectionStore;
  tuning: Pick<Config['pipeline'], 'fanoutFollowerThreshold' | 'feedCap'>;
  log: Logger;
  metrics: Metrics;
  /** Cold storage for archived posts. */
  archive?: ObjectStore;
  /**
   * Deadlines on every store call: the API's (short) on the use-case context, the workers'
   * (longer) on the pipeline's, and one projection-store breaker for both. Runbooks run
   * without (an operator watches them and can interrupt).
   */
  bounds?: { apiMs: number; workerMs: number; breaker: CircuitBreaker };
  /**
   * Hydration reads (the posts_v2 documents a feed or listing page shows) served from memory
   * for a moment; the pipeline's writes in this process drop what they change.
   */
  readCache?: Config['readCache'];
}

/**
 * The one place the use-case and pipeline contexts are assembled from open stores:
 * `start`/`serve`/`work` (platform.ts), the runbooks and the test harness all call it.
 */
export function buildContexts(p: ContextParts): {
  domain: DomainContext;
  pipeline: PipelineContext;
} {
  const b = p.bounds;
  const cache = new ReadCache({
    containers: [CONTAINERS.posts],
    ttlMs: p.readCache?.ttlMs ?? 0,
    maxEntries: p.readCache?.maxEntries ?? 1,
  });
  const workerDb = p.canonical.workerDb ?? p.canonical.db;
  return {
    domain: {
      db: b ? p.canonical.db.withDeadline(b.apiMs) : p.canonical.db,
      workerDb: b ? workerDb.withDeadline(b.apiMs) : workerDb,
      // The caller's read-your-writes session (api/session.ts) applies to every store call.
      store: sessionScoped(cache.reading(b ? boundedStore(p.store, b.apiMs, b.breaker) : p.store)),
      fanoutFollowerThreshold: p.tuning.fanoutFollowerThreshold,
      log: p.log,
      archive: p.archive,
    },
    pipeline: {
      db: b ? workerDb.withDeadline(b.workerMs) : workerDb,
      readDb: b ? p.canonical.readDb.withDeadline(b.workerMs) : p.canonical.readDb,
      store: cache.writing(b ? boundedStore(p.store, b.workerMs, b.breaker) : p.store),
      fanoutFollowerThreshold: p.tuning.fanoutFollowerThreshold,
      feedCap: p.tuning.feedCap,
      log: p.log.child({ layer: 'pipeline' }), // its parts bind their own `component`
      metrics: p.metrics,
    },
  };
}

/**
 * Opens both stores from the environment for a runbook command, runs fn with a pipeline
 * context, and closes everything. Logs go to stderr at warn level so stdout stays the
 * command's own output (tables, JSON).
 */
export async function withRunbookContext<T>(fn: (ctx: PipelineContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const canonical = await connectCanonical(config);
  try {
    // An embedded store that was never started has no schema yet.
    if (!config.canonical.url) await migrate(canonical.db);
    const metrics = new Metrics();
    const store = await createProjectionStore(config, {
      definitions: containerDefs,
      sharedAutoscaleMaxThroughput,
      observer: metrics.storeObserver,
      sweepIntervalMs: 0,
      canonical: canonical.db,
      // A short command: index builds are the serving processes' and update-indexes' job.
      buildIndexesAtStart: false,
    });
    try {
      const log = createLogger(
        config.logLevel === 'info' ? 'warn' : config.logLevel,
        { process: 'runbook' },
        { toStderr: true },
      );
      const { pipeline } = buildContexts({
        canonical,
        store,
        tuning: config.pipeline,
        log,
        metrics,
      });
      return await fn(pipeline);
    } finally {
      await store.close();
    }
  } finally {
    await canonical.close();
  }
}
