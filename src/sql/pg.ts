import pg from 'pg';
import { noteSqlStatement } from '../observability/request-cost.ts';
import type { Db, PoolStats, Queryable, QueryResult } from './db.ts';

// Same value shapes as PGlite: int8 and numeric-free counts come back as JS numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface PgDbOptions {
  max?: number;
  applicationName?: string;
}

export function createPgDb(url: string, opts: PgDbOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'asora',
  });
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => {});

  const query = async <T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> => {
    noteSqlStatement();
    const r = await pool.query(sql, params as unknown[] | undefined);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  };

  return {
    engine: 'pg',
    query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      const tx: Queryable = {
        async query<R>(sql: string, params?: readonly unknown[]) {
          noteSqlStatement();
          const r = await client.query(sql, params as unknown[] | undefined);
          return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
        },
        async exec(sql: string) {
          await client.query(sql);
        },
      };
      let broken = false;
      try {
        noteSqlStatement();
        await client.query('BEGIN');
        const out = await fn(tx);
        noteSqlStatement();
        await client.query('COMMIT');
        return out;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async listen(channel, onNotify) {
      const client = await pool.connect();
      const handler = (msg: pg.Notification) => {
        if (msg.channel === channel) onNotify(msg.payload ?? '');
      };
      // A checked-out client has no pool error listener: without ours, a lost connection
      // would crash the process. Listeners keep polling as their fallback, so we only
      // mark the client broken and let unsubscribe discard it.
      let lost = false;
      const onError = () => {
        lost = true;
      };
      client.on('error', onError);
      client.on('notification', handler);
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      return async () => {
        client.off('notification', handler);
        try {
          if (!lost) await client.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`);
        } catch {
          lost = true;
        } finally {
          client.off('error', onError);
          client.release(lost);
        }
      };
    },
    poolStats(): PoolStats {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
    },
    async close() {
      await pool.end();
    },
  };
}
