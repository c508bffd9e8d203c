import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from './api/app.ts';
import { createObjectStore } from './archive/connect.ts';
import { startArchiveSchedule } from './archive/schedule.ts';
import { connectCanonical, type ServingDbs, servingDbs } from './canonical/connect.ts';
import { migrate } from './canonical/migrations.ts';
import { buildContexts } from './composition.ts';
import type { Config } from './config/config.ts';
import { ADMIN_TOKEN_FILE, secretFile } from './datadir/secret-file.ts';
import type { DomainContext } from './domain/context.ts';
import { CircuitBreaker } from './observability/circuit-breaker.ts';
import { registerCollectors } from './observability/collectors.ts';
import {
  canonicalCheck,
  Health,
  outboxBacklogCheck,
  processorsCheck,
  projectionsCheck,
  relayCheck,
  replicaLagCheck,
} from './observability/health.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { Metrics } from './observability/metrics.ts';
import { OpsSeries } from './observability/ops-series.ts';
import { outboxCounts } from './outbox/status.ts';
import {
  createPipelineWorkers,
  type PipelineWorkerOptions,
  type PipelineWorkers,
} from './pipeline/workers.ts';
import { createProjectionStore } from './projections/connect.ts';
import type { ProjectionStore } from './projections/port.ts';
import { containerDefs, sharedAutoscaleMaxThroughput } from './readmodel/containers.ts';
import { PGLITE_ANALYZE_INTERVAL_MS, startAnalyzeSchedule } from './sql/analyze.ts';

export interface PlatformOptions {
  /** Serve the HTTP API. */
  api: boolean;
  /** Run the outbox relay and the change-feed processors in this process. */
  workers: boolean;
  log?: Logger;
  workerOptions?: PipelineWorkerOptions;
  /** How often the ops console's charts take a point (default 10 s). */
  opsSampleMs?: number;
}

export interface Platform {
  config: Config;
  log: Logger;
  metrics: Metrics;
  /** The serving pools: the API's (db) and the workers' (workerDb, readDb). */
  canonical: ServingDbs;
  store: ProjectionStore;
  ctx: DomainContext;
  health: Health;
  workers?: PipelineWorkers;
  app?: FastifyInstance;
  /** Starts listening on config.host:config.port; resolves to the address. */
  listen(): Promise<string>;
  /** Graceful: stop taking requests, finish in-flight ones, stop workers (leases released), close stores. */
  close(): Promise<void>;
}

/**
 * The embedded default generates its signing secret once into DATA_DIR (mode 600) and
 * reuses it, so tokens survive restarts. A server deployment passes JWT_SECRET (config
 * refuses DATABASE_URL without it).
 */
export async function jwtSecretFor(config: Config): Promise<string> {
  return config.jwtSecret ?? secretFile(config.dataDir, 'jwt-secret');
}

/**
 * Opens everything one process runs: canonical (migrated), the projection store
 * (provisioned), metrics and health, the pipeline workers (started) and the HTTP app.
 */
export async function createPlatform(config: Config, opts: PlatformOptions): Promise<Platform> {
  const log = opts.log ?? createLogger(config.logLevel);
  const metrics = new Metrics({ defaultMetrics: true });
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        log.error({ err }, 'error while shutting down');
      }
    }
  };
  try {
    const owner = await connectCanonical(config);
    // Closed with the serving pools (servingDbs closes the owner's own pool on a server).
    let canonical: ServingDbs | undefined;
    closers.push(() => (canonical ?? owner).close());
    if (owner.db.engine === 'pglite') {
      const analyze = startAnalyzeSchedule(owner.db, PGLITE_ANALYZE_INTERVAL_MS, (err) =>
        log.warn({ err }, 'scheduled ANALYZE failed'),
      );
      closers.push(() => analyze.stop());
    }
    const migrated = await migrate(owner.db);
    if (migrated.applied.length)
      log.info({ applied: migrated.applied }, 'canonical migrations applied');
    canonical = await servingDbs(config, owner);
    const { workerDb } = canonical;

    const store = await createProjectionStore(config, {
      definitions: containerDefs,
      sharedAutoscaleMaxThroughput,
      observer: metrics.storeObserver,
      onSweepError: (err) => log.warn({ err }, 'TTL sweep failed'),
      onIndexesBuilt: (c) => log.info(c, 'projection indexes built beside traffic'),
      onIndexBuildError: (err) =>
        log.error(
          { err },
          'projection index build failed; the next start or update-indexes retries it',
        ),
      canonical: owner.db, // the embedded store shares PGlite's one connection (unused on a server)
      // The layout is the processors': an API-only process (serve) keeps a live split.
      recutFeedRanges: opts.workers,
    });
    closers.push(() => store.close());
    // The embedded store provisioned its tables as it opened (and builds indexes in the background).
    if (store.kind === 'cosmos') await store.provision();

    // Every store call on the request path is bounded by the API deadline, every worker
    // call by the (longer) worker deadline; both share one projection-store breaker.
    const { apiMs, workerMs } = config.timeouts;
    const breaker = new CircuitBreaker('projections', config.breaker);
    const { domain: ctx, pipeline } = buildContexts({
      canonical,
      store,
      tuning: config.pipeline,
      bounds: { apiMs, workerMs, breaker },
      readCache: config.readCache,
      log,
      metrics,
      archive: createObjectStore(config),
    });
    const health = new Health({
      canonical: canonicalCheck(ctx.db),
      projections: projectionsCheck(ctx.store, breaker),
      outbox: outboxBacklogCheck(pipeline.db, config.readiness.maxOutboxBacklog),
      replica: replicaLagCheck(canonical.readDb !== workerDb ? canonical.readDb : undefined),
    });

    let workers: PipelineWorkers | undefined;
    if (opts.workers) {
      const w = createPipelineWorkers(pipeline, {
        ...opts.workerOptions,
        processor: {
          feedPollDelayMs: config.pipeline.changeFeedPollMs,
          ...opts.workerOptions?.processor,
        },
      });
      await w.start();
      closers.push(() => w.stop());
      workers = w;
      if (config.archive.intervalMinutes > 0 && ctx.archive) {
        const schedule = startArchiveSchedule({
          db: workerDb,
          objects: ctx.archive,
          log: log.child({ component: 'archive' }),
          ...config.archive,
        });
        closers.push(() => schedule.stop());
      }
      const all = Object.values(w.processors);
      health.register('relay', relayCheck({ db: workerDb }));
      health.register(
        'processors',
        processorsCheck(
          () => ({
            running: all.every((p) => p.isRunning()),
            leasesOwned: Object.fromEntries(all.map((p) => [p.name, p.ownedLeases().length])),
          }),
          async () =>
            Object.values(await w.estimate())
              .flat()
              .map((l) => ({ lease: l.leaseId, lag: l.lag })),
        ),
      );
    }
    registerCollectors(metrics, {
      db: workerDb,
      readDb: canonical.readDb,
      estimateLag: workers
        ? async () => {
            const out: { container: string; lease: string; lag: number }[] = [];
            // Same labels as the processors' own estimator: the monitored container.
            const byName = new Map(Object.values(workers.processors).map((p) => [p.name, p]));
            for (const [name, leases] of Object.entries(await workers.estimate())) {
              const container = byName.get(name)?.container ?? name;
              for (const l of leases) out.push({ container, lease: l.leaseId, lag: l.lag });
            }
            return out;
          }
        : undefined,
    });

    let app: FastifyInstance | undefined;
    if (opts.api) {
      const series = new OpsSeries(
        metrics,
        {
          outbox: () => outboxCounts(workerDb),
          changeFeedLag: workers
            ? async () =>
                Object.values(await workers.estimate())
                  .flat()
                  .reduce((n, l) => n + l.lag, 0)
            : undefined,
        },
        {
          intervalMs: opts.opsSampleMs,
          onError: (err) => log.warn({ err }, 'ops console sample failed'),
        },
      );
      series.start();
      closers.push(() => series.stop());
      const { redisUrl, ...limits } = config.rateLimits;
      let redis: Redis | undefined;
      if (redisUrl) {
        // Bounded like every store call; offline = fail fast (the limiter then fails open).
        const r = new Redis(redisUrl, {
          commandTimeout: apiMs,
          connectTimeout: apiMs,
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
        });
        r.on('error', (err) => log.warn({ err }, 'redis (rate limits) error'));
        closers.push(async () => {
          r.disconnect();
        });
        redis = r;
      }
      const a = await buildApp({
        rateLimits: { ...limits, redis },
        tokenTtlSeconds: config.tokenTtlSeconds,
        opsToken: config.opsToken,
        ctx,
        jwtSecret: await jwtSecretFor(config),
        log,
        metrics,
        ops: { health, metrics },
        opsAdmin: {
          pipeline,
          workers,
          series,
          // Embedded: runbook commands run beside this server present DATA_DIR/admin-token.
          adminToken: config.canonical.url
            ? undefined
            : await secretFile(config.dataDir, ADMIN_TOKEN_FILE),
        },
      });
      // Closed first on shutdown: no new requests, in-flight ones finish.
      closers.push(() => a.close());
      app = a;
    }

    let closing: Promise<void> | undefined;
    return {
      config,
      log,
      metrics,
      canonical,
      store,
      ctx,
      health,
      workers,
      app,
      async listen() {
        if (!app) throw new Error('this platform was created without the API');
        return app.listen({ port: config.port, host: config.host });
      },
      close() {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
