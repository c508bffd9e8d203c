import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import { inject } from 'vitest';
import {
  type CosmosProjectionStore,
  createCosmosStore,
} from '../../src/projections/cosmos/store.ts';
import { tableName } from '../../src/projections/embedded/schema.ts';
import {
  createEmbeddedStore,
  type EmbeddedProjectionStore,
} from '../../src/projections/embedded/store.ts';
import type { ContainerDef, StoreObserver } from '../../src/projections/port.ts';
import { containerDefs } from '../../src/readmodel/containers.ts';
import type { Db } from '../../src/sql/db.ts';
import { scratchDb, serverUrl, sharedPglite } from './databases.ts';

export interface TestStore {
  store: EmbeddedProjectionStore;
  db: Db;
  /** Connection URL when on a PostgreSQL server (for extra pools in concurrency tests). */
  url?: string;
  close(): Promise<void>;
}

/**
 * An empty embedded projection store. On PGlite: the worker's shared instance with every
 * container table emptied (starting PGlite costs seconds). On a server (TEST_DATABASE_URL):
 * a scratch database of its own, dropped on close.
 */
export async function embeddedStore(
  opts: {
    feedRanges?: number;
    observer?: StoreObserver;
    poolMax?: number;
    definitions?: ContainerDef[];
  } = {},
): Promise<TestStore> {
  const storeOpts = {
    feedRanges: opts.feedRanges,
    // Each test asks for its number of ranges, whatever the shared instance held before.
    recutFeedRanges: true,
    observer: opts.observer,
    definitions: opts.definitions ?? containerDefs,
  };
  if (serverUrl) {
    // The template holds the default containers' tables; other definitions start empty.
    const template = opts.definitions ? undefined : inject('templates').projections;
    const s = await scratchDb({ poolMax: opts.poolMax ?? 10, template });
    const store = await createEmbeddedStore(s.db, storeOpts);
    return {
      store,
      db: s.db,
      url: s.url,
      async close() {
        await store.close();
        await s.close();
      },
    };
  }
  const db = await sharedPglite('projections', async (d) => {
    await createEmbeddedStore(d, { definitions: containerDefs });
  });
  const store = await createEmbeddedStore(db, storeOpts);
  const ts: TestStore = { store, db, close: () => store.close() };
  await emptyStore(ts);
  return ts;
}

/** Empties every container of an embedded test store (cheaper than a new store). */
export async function emptyStore(ts: { store: EmbeddedProjectionStore }): Promise<void> {
  await ts.store.db.exec(
    `TRUNCATE ${ts.store
      .definitions()
      .map((d) => `"${tableName(d)}"`)
      .join(', ')}`,
  );
}

let emulator: Promise<string> | undefined;

/** The in-process Cosmos DB emulator (@vercel/cosmosdb-server) on an ephemeral port, one per worker. */
export function emulatorEndpoint(): Promise<string> {
  emulator ??= (async () => {
    const { createHttpsServer } = await import('@vercel/cosmosdb-server');
    const server = createHttpsServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.unref();
    const addr = server.address() as AddressInfo;
    return `https://127.0.0.1:${addr.port}`;
  })();
  return emulator;
}

export interface CosmosTestStore {
  store: CosmosProjectionStore;
  /** True when running against a real account (COSMOS_ENDPOINT), false on the emulator. */
  real: boolean;
  /** The database this store uses (dropped on close). */
  database: string;
  /** A separate SDK client on the same account (dispose it). */
  client(): CosmosClient;
  close(): Promise<void>;
}

/**
 * A provisioned Cosmos projection store in a fresh database: on the in-process emulator by
 * default, on a real account when COSMOS_ENDPOINT (+ COSMOS_KEY) is set (database dropped on close).
 */
export async function cosmosStore(
  opts: { observer?: StoreObserver; definitions?: ContainerDef[] } = {},
): Promise<CosmosTestStore> {
  const real = Boolean(process.env.COSMOS_ENDPOINT);
  const endpoint = real ? (process.env.COSMOS_ENDPOINT as string) : await emulatorEndpoint();
  const key = real ? (process.env.COSMOS_KEY ?? '') : 'emulator-accepts-any-key';
  const database = `asora_t_${randomBytes(5).toString('hex')}`;
  const agent = real ? undefined : new https.Agent({ rejectUnauthorized: false, keepAlive: true });
  const store = await createCosmosStore({
    endpoint,
    key,
    database,
    agent,
    endpointDiscovery: real,
    observer: opts.observer,
    definitions: opts.definitions ?? containerDefs,
  });
  await store.provision();
  const client = () =>
    new CosmosClient({
      endpoint,
      key,
      ...(agent ? { agent } : {}),
      connectionPolicy: { enableEndpointDiscovery: real },
    });
  return {
    store,
    real,
    database,
    client,
    async close() {
      const admin = client();
      try {
        await admin.database(database).delete();
      } finally {
        admin.dispose();
        await store.close();
        agent?.destroy();
      }
    },
  };
}
