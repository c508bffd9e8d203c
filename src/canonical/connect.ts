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
