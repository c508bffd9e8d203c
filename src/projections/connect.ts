import path from 'node:path';
import type { Config } from '../config/config.ts';
import { lockDataDir } from '../datadir/lock.ts';
import type { Db } from '../sql/db.ts';
import { openConfiguredPglite, openEmbeddedCanonical } from '../sql/embedded-db.ts';
import { createPgDb } from '../sql/pg.ts';
import { SHARED_PROJECTIONS_SCHEMA } from '../sql/pglite-settings.ts';
import type { CosmosProjectionStore } from './cosmos/store.ts';
import {
  createEmbeddedStore,
  type EmbeddedProjectionStore,
  type EmbeddedStoreOptions,
} from './embedded/store.ts';
import type { ContainerDef, StoreObserver } from './port.ts';

export type { CosmosProjectionStore } from './cosmos/store.ts';
export {
  createEmbeddedStore,
  type EmbeddedProjectionStore,
  type EmbeddedStoreOptions,
} from './embedded/store.ts';
export { startSweeper, sweepExpired } from './embedded/sweeper.ts';

/** How often the embedded store deletes expired items (reads hide them at once anyway). */
const SWEEP_INTERVAL_MS = 60_000;

/** True when the embedded projection store lives in canonical's PGlite database. */
export const sharesCanonicalPglite = (config: Config): boolean =>
  config.projections.kind === 'embedded' && !config.projections.url && !config.canonical.url;

/**
 * Opens the configured projection store: Cosmos DB when COSMOS_ENDPOINT is set, else the
 * embedded store on PROJECTIONS_DATABASE_URL; with neither and an embedded canonical store,
 * in the canonical PGlite database (schema asora_projections: one PGlite, not two; pass the
 * open canonical Db as `canonical`, a second PGlite on one directory would corrupt it);
 * with a canonical server, PGlite in ${DATA_DIR}/projections. Embedded tables are
 * provisioned at start, and feed ranges laid out when a container has none (re-cut to
 * FEED_RANGES only with recutFeedRanges). Never a transaction across the two stores.
 */
export async function createProjectionStore(
  config: Config,
  opts: {
    /** The containers to open (the app's definitions). */
    definitions: ContainerDef[];
    /** Cosmos database throughput shared by containers without their own (containers.json). */
    sharedAutoscaleMaxThroughput?: number;
    observer?: StoreObserver;
    sweepIntervalMs?: number;
    onSweepError?: EmbeddedStoreOptions['onSweepError'];
    buildIndexesAtStart?: EmbeddedStoreOptions['buildIndexesAtStart'];
    /** Embedded: re-cut the feed ranges to FEED_RANGES (only a start that runs the processors). */
    recutFeedRanges?: EmbeddedStoreOptions['recutFeedRanges'];
    onIndexesBuilt?: EmbeddedStoreOptions['onIndexesBuilt'];
    onIndexBuildError?: EmbeddedStoreOptions['onIndexBuildError'];
    /** The open embedded canonical Db, when this process has one (see sharesCanonicalPglite). */
    canonical?: Db;
  },
): Promise<CosmosProjectionStore | EmbeddedProjectionStore> {
  const p = config.projections;
  if (p.kind === 'cosmos') {
    // Loaded only when used: the Cosmos SDK is ~30 MB of an embedded process's memory.
    const { createCosmosStore } = await import('./cosmos/store.ts');
    return createCosmosStore({
      endpoint: p.endpoint,
      key: p.key,
      database: p.database,
      definitions: opts.definitions,
      timeoutMs: config.cosmosTimeoutMs,
      observer: opts.observer,
      preferredRegions: p.preferredRegions,
      sharedAutoscaleMaxThroughput: opts.sharedAutoscaleMaxThroughput,
    });
  }
  const shared = sharesCanonicalPglite(config);
  let db: Db;
  let unlock: (() => Promise<void>) | undefined;
  if (p.url)
    db = createPgDb(p.url, {
      max: config.canonical.poolMax,
      applicationName: 'asora-projections',
      connectTimeoutMs: config.timeouts.workerMs,
      statementTimeoutMs: config.timeouts.workerMs,
    }).withDeadline(config.timeouts.workerMs);
  else if (shared && opts.canonical) db = opts.canonical;
  else {
    // Throws DataDirLockedError (naming the holder's PID) when another process has it open.
    unlock = await lockDataDir(config.dataDir);
    try {
      if (shared) db = await openEmbeddedCanonical(config);
      else db = await openConfiguredPglite(config, path.join(config.dataDir, 'projections'));
    } catch (err) {
      await unlock();
      throw err;
    }
  }
  const ownsDb = !(shared && opts.canonical);
  try {
    const store = await createEmbeddedStore(db, {
      definitions: opts.definitions,
      feedRanges: p.feedRanges,
      recutFeedRanges: opts.recutFeedRanges,
      observer: opts.observer,
      sweepIntervalMs: opts.sweepIntervalMs ?? SWEEP_INTERVAL_MS,
      onSweepError: opts.onSweepError,
      buildIndexesAtStart: opts.buildIndexesAtStart,
      onIndexesBuilt: opts.onIndexesBuilt,
      onIndexBuildError: opts.onIndexBuildError,
      ownsDb,
      schema: shared ? SHARED_PROJECTIONS_SCHEMA : undefined,
    });
    if (!unlock) return store;
    const release = unlock;
    const close = store.close.bind(store);
    store.close = async () => {
      await close();
      await release();
    };
    return store;
  } catch (err) {
    if (ownsDb) await db.close();
    await unlock?.();
    throw err;
  }
}

/** Where the configured projection store lives, for logs and CLI output (no secrets). */
export function describeProjectionStore(config: Config): string {
  const p = config.projections;
  if (p.kind === 'cosmos') return `Cosmos DB ${p.endpoint} (database ${p.database})`;
  if (p.url) {
    const u = new URL(p.url);
    u.password = '';
    u.username = '';
    return `embedded store on PostgreSQL ${u.host}${u.pathname}`;
  }
  if (sharesCanonicalPglite(config))
    return `embedded store on PGlite in ${path.join(config.dataDir, 'canonical')} (the canonical database, schema ${SHARED_PROJECTIONS_SCHEMA})`;
  return `embedded store on PGlite in ${path.join(config.dataDir, 'projections')}`;
}
