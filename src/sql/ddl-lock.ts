import type { Queryable } from './db.ts';

/**
 * How long a DDL statement on a live database waits for a table lock (ms). A waiting ALTER
 * TABLE queues every later read and write of its table behind it, and holds a transaction id
 * that holds back change-feed horizons on the whole server; so it gives up after this long,
 * and the migration or provisioning runs again at the next start.
 */
export const DDL_LOCK_TIMEOUT_MS = 5_000;

/** Bounds the lock waits of the rest of this transaction's statements. */
export function boundLockWaits(tx: Queryable, ms = DDL_LOCK_TIMEOUT_MS): Promise<void> {
  return tx.exec(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(ms))}`);
}

/**
 * How long an index build on a live server may take, its waits for older transactions
 * included (CREATE INDEX CONCURRENTLY blocks no reads or writes meanwhile, so it may wait).
 */
export const INDEX_BUILD_TIMEOUT_MS = 30 * 60_000;
