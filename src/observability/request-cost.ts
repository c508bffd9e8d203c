import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What one request costs in store round trips: SQL statements sent to PostgreSQL (canonical,
 * and the embedded projection store, which is PostgreSQL too; BEGIN and COMMIT count) and
 * projection store calls. Counted where the calls are made, attributed to the request
 * through async context, exported per route (asora_request_sql_statements,
 * asora_request_store_calls) so a read that starts costing more shows.
 */
export interface RequestCost {
  sqlStatements: number;
  storeCalls: number;
}

const current = new AsyncLocalStorage<RequestCost>();

/** Runs fn with a fresh cost record that every statement and store call under it adds to. */
export function withRequestCost<T>(cost: RequestCost, fn: () => T): T {
  return current.run(cost, fn);
}

export const newRequestCost = (): RequestCost => ({ sqlStatements: 0, storeCalls: 0 });

export function noteSqlStatement(): void {
  const c = current.getStore();
  if (c) c.sqlStatements++;
}

export function noteStoreCall(): void {
  const c = current.getStore();
  if (c) c.storeCalls++;
}
