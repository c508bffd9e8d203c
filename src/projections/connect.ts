import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { lockDataDir } from '../datadir/lock.ts';
import type { Db } from '../sql/db.ts';
import { createPgDb } from '../sql/pg.ts';
import { createPgliteDb } from '../sql/pglite.ts';
import { type CosmosProjectionStore, createCosmosStore } from './cosmos/store.ts';
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

/**
 * Opens the configured projection store: Cosmos DB when COSMOS_ENDPOINT is set, else the
 * embedded store on PROJECTIONS_DATABASE_URL or PGlite in ${DATA_DIR}/projections (a
 * database separate from the canonical one). Embedded tables are provisioned at start.
 */
export async function createProjectionStore(
  config: Config,
  opts: {
    /** The containers to open (the app's definitions). */
    definitions: ContainerDef[];
    observer?: StoreObserver;
    sweepIntervalMs?: number;
    onSweepError?: EmbeddedStoreOptions['onSweepError'];
  },
): Promise<CosmosProjectionStore | EmbeddedProjectionStore> {
  const p = config.projections;
  if (p.kind === 'cosmos') {
    return createCosmosStore({
      endpoint: p.endpoint,
      key: p.key,
      database: p.database,
      definitions: opts.definitions,
      timeoutMs: config.cosmosTimeoutMs,
      observer: opts.observer,
    });
  }
  let db: Db;
  let unlock: (() => Promise<void>) | undefined;
  if (p.url)
    db = createPgDb(p.url, { max: config.canonical.poolMax, applicationName: 'asora-projections' });
  else {
    // Throws DataDirLockedError (naming the holder's PID) when another process has it open.
    unlock = await lockDataDir(config.dataDir);
    try {
      const dir = path.join(config.dataDir, 'projections');
      await mkdir(dir, { recursive: true });
      db = await createPgliteDb(dir);
    } catch (err) {
      await unlock();
      throw err;
    }
  }
  try {
    const store = await createEmbeddedStore(db, {
      definitions: opts.definitions,
      feedRanges: p.feedRanges,
      observer: opts.observer,
      sweepIntervalMs: opts.sweepIntervalMs ?? SWEEP_INTERVAL_MS,
      onSweepError: opts.onSweepError,
      ownsDb: true,
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
    await db.close();
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
  return `embedded store on PGlite in ${path.join(config.dataDir, 'projections')}`;
}
