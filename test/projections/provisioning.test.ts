import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  compositeIndexes,
  isProvisioned,
  PROVISION_LOCK,
  provisionTables,
  tableName,
} from '../../src/projections/embedded/schema.ts';
import { createEmbeddedStore } from '../../src/projections/embedded/store.ts';
import type { ContainerDef } from '../../src/projections/port.ts';
import { containerDefs } from '../../src/readmodel/containers.ts';
import type { Db } from '../../src/sql/db.ts';
import { createPgDb } from '../../src/sql/pg.ts';
import { engineName, scratchDb, serverUrl, someoneWaitsOn } from '../support/databases.ts';
import { cosmosStore, embeddedStore } from '../support/projections.ts';

const run = promisify(execFile);

/** Whether the index exists and is valid (usable by queries). */
async function indexValid(db: Db, name: string): Promise<boolean | undefined> {
  const { rows } = await db.query<{ valid: boolean }>(
    `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`,
    [name],
  );
  return rows[0]?.valid;
}

/** Until a CREATE INDEX CONCURRENTLY waits for an older transaction. */
async function buildWaits(db: Db): Promise<void> {
  await expect
    .poll(
      async () =>
        (
          await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'`,
          )
        ).rows[0]!.n,
      { timeout: 5_000, interval: 20 },
    )
    .toBe(1);
}

/** The first declared composite index of userFeed, and its table with one row in it. */
async function feedIndexOnRows(db: Db) {
  const feed = containerDefs.find((d) => d.name === 'userFeed') as ContainerDef;
  const t = tableName(feed);
  const name = compositeIndexes(feed)[0]?.name as string;
  await db.query(
    `INSERT INTO ${t} (pk, id, body, etag, ts, lsn, txid, feed_range)
     VALUES ('r1', 'r1:p1', '{"id":"r1:p1","recipientId":"r1"}', '"e"', 0, nextval('proj_lsn'), pg_current_xact_id(), 0)`,
  );
  return { t, name };
}
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

  it('update-indexes builds an index of a table with rows without blocking writes: beside a long writing transaction, a write goes on', async () => {
    const s = await embeddedStore({ poolMax: 4 });
    try {
      const { t, name } = await feedIndexOnRows(s.db);
      await s.db.exec(`DROP INDEX "${name}"`);
      let building: Promise<unknown> | undefined;
      // A long transaction that writes to the table: a plain CREATE INDEX would wait for it
      // and queue every later write behind itself.
      await s.db.transaction(async (long) => {
        await long.query(`UPDATE ${t} SET ts = ts WHERE pk = 'r1'`);
        building = s.store.updateIndexes();
        await buildWaits(s.db);
        await s.db.transaction(async (tx) => {
          await tx.exec(`SET LOCAL statement_timeout = '2s'`);
          // Another row than `long`'s (whose row lock it waits for otherwise).
          await tx.query(
            `INSERT INTO ${t} (pk, id, body, etag, ts, lsn, txid, feed_range)
             SELECT 'r2', 'r2:p1', jsonb_set(body, '{recipientId}', '"r2"'), etag, ts, nextval('proj_lsn'), pg_current_xact_id(), 0
               FROM ${t} WHERE pk = 'r1'`,
          );
        });
        expect(await indexValid(s.db, name)).toBe(false); // still building, behind `long`
      });
      expect(await building).toEqual({ created: [name], dropped: [] });
      expect(await indexValid(s.db, name)).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('a start rebuilds an index a build left invalid, without its DDL; one that finds another process building looks again until it is built', async () => {
    const s = await embeddedStore({ poolMax: 4 });
    try {
      const { name } = await feedIndexOnRows(s.db);
      // What an interrupted CREATE INDEX CONCURRENTLY leaves behind.
      await s.db.exec(
        `UPDATE pg_index SET indisvalid = false WHERE indexrelid = '"${name}"'::regclass`,
      );
      // A start serves at once and builds it in the background.
      let started!: Awaited<ReturnType<typeof createEmbeddedStore>>;
      const built = await new Promise<unknown>((resolve, reject) => {
        createEmbeddedStore(s.db, {
          definitions: containerDefs,
          onIndexesBuilt: resolve,
          onIndexBuildError: reject,
        }).then((st) => {
          started = st;
        }, reject);
      });
      await started.close();
      expect(built).toEqual({ created: [name], dropped: [] });
      expect(await indexValid(s.db, name)).toBe(true);
      expect(await isProvisioned(s.db, containerDefs, { notify: true })).toBe(true);

      await s.db.exec(`DROP INDEX "${name}"`);
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let locked!: () => void;
      const holding = new Promise<void>((r) => {
        locked = r;
      });
      const holder = s.db.session(async (x) => {
        await x.query(`SELECT pg_advisory_lock(${PROVISION_LOCK})`);
        locked();
        await held;
      });
      await holding;
      const outcomes: unknown[] = [];
      let builtLater!: (c: unknown) => void;
      const later = new Promise((r) => {
        builtLater = r;
      });
      const busy = await createEmbeddedStore(s.db, {
        definitions: containerDefs,
        indexRetryMs: 200,
        onIndexesBuilt: (c) => {
          outcomes.push(c);
          builtLater(c);
        },
        onIndexBuildError: (err) => outcomes.push(err),
      });
      try {
        await new Promise((r) => setTimeout(r, 700)); // several looks, each finding the lock held
        expect(outcomes).toEqual([]); // left to the holder
        expect(await indexValid(s.db, name)).toBeUndefined();
        // update-indexes waits for it, then says who is in the way.
        await expect(s.store.updateIndexes()).rejects.toThrow(/another process/);
        // The holder stops without building: the start that skipped builds it at its next look.
        release();
        await holder;
        expect(await later).toEqual({ created: [name], dropped: [] });
        expect(await indexValid(s.db, name)).toBe(true);
      } finally {
        await busy.close();
      }
      expect(await s.store.updateIndexes()).toEqual({ created: [], dropped: [] });
    } finally {
      await s.close();
    }
  }, 30_000);

  it('a start builds in the background on a connection of its own, and closing the store cancels the build at once', async () => {
    const s = await embeddedStore({ poolMax: 4 });
    try {
      const { t, name } = await feedIndexOnRows(s.db);
      await s.db.exec(`DROP INDEX "${name}"`);
      const errors: unknown[] = [];
      await s.db.transaction(async (long) => {
        await long.query(`UPDATE ${t} SET ts = ts WHERE pk = 'r1'`); // holds the build back
        const small = createPgDb(s.url!, { max: 1 });
        try {
          const st = await createEmbeddedStore(small, {
            definitions: containerDefs,
            onIndexBuildError: (err) => errors.push(err),
          });
          await buildWaits(s.db);
          // The pool's only connection, kept busy: neither the build nor its cancel needs it.
          await small.transaction(async () => {
            const closing = Date.now();
            await st.close();
            expect(Date.now() - closing).toBeLessThan(3_000);
          });
        } finally {
          await small.close();
        }
      });
      expect(errors).toEqual([]); // a cancel on close is no failure
      expect(await indexValid(s.db, name)).not.toBe(true); // cancelled: absent or invalid
      expect(await s.store.updateIndexes()).toEqual({ created: [name], dropped: [] });
      expect(await indexValid(s.db, name)).toBe(true);
    } finally {
      await s.close();
    }
  }, 30_000);

  it('a second update-indexes while one builds gives up after 5 s instead of deadlocking the build', async () => {
    const s = await embeddedStore({ poolMax: 6 });
    try {
      const { t, name } = await feedIndexOnRows(s.db);
      await s.db.exec(`DROP INDEX "${name}"`);
      let first: Promise<unknown> | undefined;
      await s.db.transaction(async (long) => {
        await long.query(`UPDATE ${t} SET ts = ts WHERE pk = 'r1'`); // holds the build back
        first = s.store.updateIndexes();
        await buildWaits(s.db);
        // Before, its lock wait held a snapshot the build waited for: a deadlock, and the
        // build (minutes of work) was the one PostgreSQL cancelled.
        await expect(s.store.updateIndexes()).rejects.toThrow(/another process/);
      });
      expect(await first).toEqual({ created: [name], dropped: [] });
      expect(await indexValid(s.db, name)).toBe(true);
    } finally {
      await s.close();
    }
  }, 30_000);

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
