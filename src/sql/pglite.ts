import { PGlite } from '@electric-sql/pglite';
import { citext } from '@electric-sql/pglite/contrib/citext';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { noteSqlStatement } from '../observability/request-cost.ts';
import type { Db, Queryable, QueryResult } from './db.ts';

/**
 * PGlite (PostgreSQL in WASM) behind the Db interface. One connection: PGlite queues
 * queries, and `transaction` holds the connection for its whole duration.
 * dataDir undefined = in-memory.
 */
export async function createPgliteDb(dataDir?: string): Promise<Db> {
  const lite = await PGlite.create(dataDir, { extensions: { citext, pgcrypto } });
  return wrapPglite(lite);
}

/** Wraps an existing PGlite instance (e.g. one restored from a snapshot in tests). */
export function wrapPglite(lite: PGlite): Db {
  const query = async <T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> => {
    noteSqlStatement();
    const r = await lite.query<T>(sql, params as unknown[] | undefined);
    return { rows: r.rows, rowCount: Math.max(r.affectedRows ?? 0, r.rows.length) };
  };
  let closed = false;
  return {
    engine: 'pglite',
    query,
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      noteSqlStatement(); // BEGIN (COMMIT is counted below)
      return lite.transaction(async (t) => {
        const out = await fn({
          async query<R>(sql: string, params?: readonly unknown[]) {
            noteSqlStatement();
            const r = await t.query<R>(sql, params as unknown[] | undefined);
            return { rows: r.rows, rowCount: Math.max(r.affectedRows ?? 0, r.rows.length) };
          },
          async exec(sql: string) {
            await t.exec(sql);
          },
        });
        noteSqlStatement();
        return out;
      });
    },
    async exec(sql: string) {
      await lite.exec(sql);
    },
    async listen(channel, onNotify) {
      return lite.listen(channel, onNotify);
    },
    poolStats() {
      return { total: 1, idle: 1, waiting: 0 };
    },
    async close() {
      if (closed) return;
      closed = true;
      await lite.close();
    },
  };
}
