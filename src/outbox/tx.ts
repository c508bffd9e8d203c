import type { Db, Queryable } from '../sql/db.ts';

/**
 * The database role the outbox works as: migrations grant it the outbox table and
 * emit_event; relays, status and redrive all run as it.
 */
export const OUTBOX_ROLE = 'asora_worker';

/** Runs fn in one transaction as the outbox role. */
export function inOutboxTx<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.exec(`SET LOCAL ROLE ${OUTBOX_ROLE}`);
    return fn(tx);
  });
}
