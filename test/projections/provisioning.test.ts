import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  compositeIndexes,
  isProvisioned,
  provisionTables,
  tableName,
} from '../../src/projections/embedded/schema.ts';
import { createEmbeddedStore } from '../../src/projections/embedded/store.ts';
import type { ContainerDef } from '../../src/projections/port.ts';
import { containerDefs } from '../../src/readmodel/containers.ts';
import { engineName, scratchDb, serverUrl, someoneWaitsOn } from '../support/databases.ts';
import { cosmosStore, embeddedStore } from '../support/projections.ts';

const run = promisify(execFile);
/**
 * The lock timeout these tests give provisioning: short, because a waiting ALTER TABLE holds a
 * transaction id, which pauses every change feed on the shared test server while it waits.
 */
const LOCK_TIMEOUT_MS = 500;
const root = path.resolve(import.meta.dirname, '../..');

describe(`provisioning on the embedded store (${engineName})`, () => {
  // The first call in a worker may start PGlite (seconds; far more on a loaded machine).
  it('provision is idempotent; update-indexes drops stale and creates declared indexes', {
    timeout: 180_000,
  }, async () => {
    const s = await embeddedStore();
    try {
      await s.store.provision();
      await s.store.provision();
      const feed = containerDefs.find((d) => d.name === 'userFeed') as ContainerDef;
      const t = tableName(feed);
      // An index from an older containers.json, and a declared one missing.
      await s.db.exec(`CREATE INDEX ${t}_ci_stale ON ${t} (pk, (body->>'old'))`);
      const declared = compositeIndexes(feed)[0]?.name as string;
      await s.db.exec(`DROP INDEX "${declared}"`);
      const r = await s.store.updateIndexes();
      expect(r.dropped).toEqual([`${t}_ci_stale`]);
      expect(r.created).toEqual([declared]);
      expect(await s.store.updateIndexes()).toEqual({ created: [], dropped: [] });
      const { rows } = await s.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_tables WHERE tablename = ANY($1)`,
        [containerDefs.map(tableName)],
      );
      expect(rows[0]?.n).toBe(containerDefs.length);
    } finally {
      await s.close();
    }
  });

  it('the CLI and its shell wrappers provision the embedded store and say which store they acted on', {
    timeout: 180_000,
  }, async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'asora-proj-'));
    const scratch = serverUrl ? await scratchDb() : undefined;
    const env = {
      ...process.env,
      DATA_DIR: dataDir,
      PROJECTIONS_DATABASE_URL: scratch?.url ?? '',
      COSMOS_ENDPOINT: '',
      COSMOS_KEY: '',
      DATABASE_URL: '',
    };
    try {
      const a = await run(path.join(root, 'database/create_cosmos_containers.sh'), [], {
        env,
        cwd: os.tmpdir(),
      });
      expect(a.stdout).toMatch(
        /embedded store on (PGlite|PostgreSQL) .*: provisioned 8 containers \(posts_v2, userFeed/,
      );
      if (scratch) {
        // Twice: idempotent; then the index update finds nothing to do.
        await run(path.join(root, 'database/create_cosmos_containers.sh'), [], { env });
        const b = await run(path.join(root, 'database/update-cosmos-indexes.sh'), [], { env });
        expect(b.stdout).toMatch(/indexes up to date \(created 0; dropped 0\)/);
        const { rows } = await scratch.db.query(
          `SELECT 1 FROM pg_tables WHERE tablename = 'proj_userfeed'`,
        );
        expect(rows).toHaveLength(1);
      }
    } finally {
      await scratch?.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('provisioning on Cosmos (emulator unless COSMOS_ENDPOINT is set)', () => {
  it('creates every container with its partition key, TTL and indexing policy; both steps are idempotent', async () => {
    const c = await cosmosStore();
    try {
      await c.store.provision(); // second time
      expect(await c.store.updateIndexes()).toEqual(containerDefs.map((d) => d.name));
      expect(c.store.container('notifications').def.defaultTtl).toBe(2_592_000);
      // Read the containers back through a client of our own.
      const client = c.client();
      try {
        const db = client.database(c.database);
        for (const def of containerDefs) {
          const { resource } = await db.container(def.name).read();
          expect(resource?.partitionKey?.paths).toEqual([def.partitionKey]);
          if (c.real) {
            expect(resource?.defaultTtl).toBe(def.defaultTtl);
            expect(resource?.indexingPolicy?.compositeIndexes ?? []).toEqual(
              def.indexingPolicy.compositeIndexes ?? [],
            );
          }
        }
      } finally {
        client.dispose();
      }
    } finally {
      await c.close();
    }
  });
});

describe(`provisioning at start (${engineName})`, () => {
  it("skips its DDL when this build's DDL already ran and nothing is missing, and runs it again when either changed", async () => {
    const s = await embeddedStore();
    const notify = s.db.engine === 'pg';
    const t = tableName(containerDefs.find((d) => d.name === 'userFeed') as ContainerDef);
    try {
      await s.store.provision();
      expect(await isProvisioned(s.db, containerDefs, { notify })).toBe(true);
      // The DDL of another build (a changed trigger, column or function) ran here before.
      await s.db.exec(`COMMENT ON SEQUENCE proj_lsn IS 'another build'`);
      expect(await isProvisioned(s.db, containerDefs, { notify })).toBe(false);
      await s.store.provision();
      expect(await isProvisioned(s.db, containerDefs, { notify })).toBe(true);
      // An index dropped by hand.
      await s.db.exec(`DROP INDEX ${t}_expiry`);
      expect(await isProvisioned(s.db, containerDefs, { notify })).toBe(false);
      await s.store.provision();
      expect(await isProvisioned(s.db, containerDefs, { notify })).toBe(true);
    } finally {
      await s.close();
    }
  });
});

describe.skipIf(!serverUrl)('provisioning beside live traffic (PostgreSQL server)', () => {
  it('a process starting on a provisioned store takes no table lock: behind a long transaction, reads go on meanwhile', async () => {
    const s = await embeddedStore({ poolMax: 4 });
    const t = tableName(containerDefs.find((d) => d.name === 'userFeed') as ContainerDef);
    try {
      // A long transaction (a report, a backup) holds ACCESS SHARE on userFeed throughout.
      await s.db.transaction(async (long) => {
        await long.query(`SELECT count(*) FROM ${t}`);
        const started = Date.now();
        const starting = createEmbeddedStore(s.db, { definitions: containerDefs });
        // A read arriving while the new process starts. Before, it queued behind the start's
        // waiting ALTER TABLE until the long transaction ended.
        await s.db.transaction(async (tx) => {
          await tx.exec(`SET LOCAL statement_timeout = '2s'`);
          await tx.query(`SELECT * FROM ${t} LIMIT 1`);
        });
        await (await starting).close();
        expect(Date.now() - started).toBeLessThan(2_000);
      });
    } finally {
      await s.close();
    }
  });

  it('with something to do, its DDL gives up on a lock held by a long transaction, so the reads queued behind it wait at most the lock timeout', async () => {
    const s = await embeddedStore({ poolMax: 4 });
    const t = tableName(containerDefs.find((d) => d.name === 'userFeed') as ContainerDef);
    try {
      await s.db.exec(`DROP INDEX ${t}_expiry`);
      await s.db.transaction(async (long) => {
        await long.query(`SELECT count(*) FROM ${t}`);
        const started = Date.now();
        const provisioning = provisionTables(s.db, containerDefs, {
          lockTimeoutMs: LOCK_TIMEOUT_MS,
        });
        const failed = expect(provisioning).rejects.toThrow(/lock timeout/);
        await someoneWaitsOn(s.db, t);
        // Queued behind the waiting DDL: served once it gives up.
        await s.db.transaction(async (tx) => {
          await tx.exec(`SET LOCAL statement_timeout = '${LOCK_TIMEOUT_MS + 2_000}ms'`);
          await tx.query(`SELECT * FROM ${t} LIMIT 1`);
        });
        await failed;
        expect(Date.now() - started).toBeLessThan(LOCK_TIMEOUT_MS + 2_000);
      });
      await s.store.provision();
      expect(await isProvisioned(s.db, containerDefs, { notify: true })).toBe(true);
    } finally {
      await s.close();
    }
  });
});
