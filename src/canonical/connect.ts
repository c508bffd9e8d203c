import type { Config } from '../config/config.ts';
import { lockDataDir } from '../datadir/lock.ts';
import type { Db } from '../sql/db.ts';
import { openEmbeddedCanonical } from '../sql/embedded-db.ts';
import { createPgDb } from '../sql/pg.ts';

export interface CanonicalDbs {
  /** Primary: all writes and read-your-writes reads. */
  db: Db;
  /** Replica for heavy reads (fan-out follower lists, reconcile, reports); the primary if none. */
  readDb: Db;
  close(): Promise<void>;
}

/** What a serving process (start, serve, work) runs on: one pool per login role. */
export interface ServingDbs extends CanonicalDbs {
  /** The API's requests, as asora_api_login (they enter asora_app / asora_admin per session). */
  db: Db;
  /** Pipeline, relay, archive, outbox gauges, as asora_worker_login. */
  workerDb: Db;
  /** The replica as the worker login (only workers read it); workerDb if none. */
  readDb: Db;
}

/** Opens the canonical store: a PostgreSQL server when configured, else PGlite in DATA_DIR. */
export async function connectCanonical(config: Config): Promise<CanonicalDbs> {
  const { url, readUrl, poolMax } = config.canonical;
  // Connecting is bounded for everyone; statements get their deadline from withDeadline.
  const connectTimeoutMs = config.timeouts.workerMs;
  let db: Db;
  let unlock: (() => Promise<void>) | undefined;
  if (url) {
    db = createPgDb(url, { max: poolMax, applicationName: 'asora', connectTimeoutMs });
  } else {
    // Throws DataDirLockedError (naming the holder's PID) when another process has it open.
    unlock = await lockDataDir(config.dataDir);
    try {
      db = await openEmbeddedCanonical(config);
    } catch (err) {
      await unlock();
      throw err;
    }
  }
  const readDb =
    url && readUrl
      ? createPgDb(readUrl, { max: poolMax, applicationName: 'asora-read', connectTimeoutMs })
      : db;
  return {
    db,
    readDb,
    async close() {
      if (readDb !== db) await readDb.close();
      await db.close();
      await unlock?.();
    },
  };
}

/**
 * After migrations (which need the owner), the pools a serving process keeps. A server: the
 * owner's pool is closed and the API and the workers log in as the roles of 0010, which own
 * nothing (config.canonical.apiUrl / workerUrl). Embedded PGlite is one in-process
 * superuser connection shared with the projection store: it stays as it is (docs/canonical.md,
 * "Roles", says what holds there).
 */
export async function servingDbs(config: Config, owner: CanonicalDbs): Promise<ServingDbs> {
  const { url, apiUrl, workerUrl, workerReadUrl, poolMax } = config.canonical;
  if (!url || !apiUrl || !workerUrl) return { ...owner, workerDb: owner.db };
  await owner.close();
  const connectTimeoutMs = config.timeouts.workerMs;
  const pool = (u: string, applicationName: string) =>
    createPgDb(u, { max: poolMax, applicationName, connectTimeoutMs });
  const db = pool(apiUrl, 'asora');
  const workerDb = pool(workerUrl, 'asora-worker');
  const readDb = workerReadUrl ? pool(workerReadUrl, 'asora-read') : workerDb;
  return {
    db,
    workerDb,
    readDb,
    async close() {
      if (readDb !== workerDb) await readDb.close();
      await workerDb.close();
      await db.close();
    },
  };
}
