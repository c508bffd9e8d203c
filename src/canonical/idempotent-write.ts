import { AsyncLocalStorage } from 'node:async_hooks';
import type { Queryable } from '../sql/db.ts';

/** The Idempotency-Key a request holds, once claimed (set by the API, read before COMMIT). */
export interface IdempotentWriteScope {
  key?: { scope: string; key: string };
}

const current = new AsyncLocalStorage<IdempotentWriteScope>();

/** Runs fn (a request) so that its canonical transactions can mark its key as committed. */
export function withIdempotentWrites<T>(scope: IdempotentWriteScope, fn: () => T): T {
  return current.run(scope, fn);
}

/**
 * Called by the session helpers as a transaction's last statement: when the request holds a
 * key and this transaction wrote something, the key is marked committed in the same
 * transaction (0011), so a retry after a crash before the response was recorded can never
 * run the write a second time.
 */
export async function markIdempotentWrite(tx: Queryable): Promise<void> {
  const k = current.getStore()?.key;
  if (!k) return;
  await tx.query('SELECT idempotency_mark_committed($1, $2)', [k.scope, k.key]);
}
