import pg from 'pg';
import { noteSqlStatement } from '../observability/request-cost.ts';
import { TimeoutError } from '../observability/timeout.ts';
import type { Db, PoolStats, Queryable, QueryResult } from './db.ts';

// Same value shapes as PGlite: int8 and numeric-free counts come back as JS numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface PgDbOptions {
  max?: number;
  applicationName?: string;
  /**
   * Longest a new connection may take (TCP + startup), and the server-side
   * statement_timeout; undefined = no bound (migrations, CLI runbooks). Per-call
   * deadlines come from `withDeadline`.
   */
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
}

/** pg's own client-side read timeout error: the connection is destroyed, we report a TimeoutError. */
const asTimeout = (err: unknown, ms: number | undefined, what: string): unknown =>
  err instanceof Error && err.message === 'Query read timeout'
    ? new TimeoutError(`${what} did not answer within ${ms} ms`)
    : err;

export function createPgDb(url: string, opts: PgDbOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'asora',
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 0,
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
    // A silently dropped peer is noticed by TCP keepalives, not only by a hung query.
    keepAlive: true,
  });
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => {});
  const what = opts.applicationName ?? 'PostgreSQL';

  /** A new connection outside the pool (sessions, cancel requests), bounded like the pool's. */
  const dedicated = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      connectionString: url,
      application_name: `${opts.applicationName ?? 'asora'}-session`,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 0,
      keepAlive: true,
    });
    // A lost connection fails its query; it must not crash the process.
    client.on('error', () => {});
    await client.connect();
    return client;
  };

  /** A client within the deadline; one that arrives after it goes straight back to the pool. */
  const acquire = async (deadlineMs: number | undefined): Promise<pg.PoolClient> => {
    if (!deadlineMs) return pool.connect();
    let late = false;
    const pending = pool.connect();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            late = true;
            reject(new TimeoutError(`${what}: no connection within ${deadlineMs} ms`));
          }, deadlineMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (late)
        pending.then(
          (c) => c.release(),
          () => {},
        );
    }
  };

  /** The Db with every statement (and connection wait) bounded by deadlineMs. */
  const view = (deadlineMs: number | undefined): Db => {
    const run = async <T>(
      client: pg.PoolClient,
      sql: string,
      params?: readonly unknown[],
      ms = deadlineMs,
    ) => {
      try {
        const r = await client.query({
          text: sql,
          values: params,
          query_timeout: ms,
        } as pg.QueryConfig);
        return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
      } catch (err) {
        throw asTimeout(err, ms, what);
      }
    };
    const query = async <T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> => {
      noteSqlStatement();
      const client = await acquire(deadlineMs);
      let failed: unknown;
      try {
        return await run<T>(client, sql, params);
      } catch (err) {
        failed = err ?? new Error('query failed');
        throw err;
      } finally {
        // A timed-out or broken connection is discarded, never reused.
        client.release(failed !== undefined && sqlStateOf(failed) === undefined);
      }
    };

    return {
      engine: 'pg',
      query,
      async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
        const client = await acquire(deadlineMs);
        const tx: Queryable = {
          query: <R>(sql: string, params?: readonly unknown[]) => {
            noteSqlStatement();
            return run<R>(client, sql, params);
          },
          async exec(sql: string) {
            await run(client, sql);
          },
        };
        let broken = false;
        try {
          noteSqlStatement();
          await run(client, 'BEGIN');
          const out = await fn(tx);
          noteSqlStatement();
          await run(client, 'COMMIT');
          return out;
        } catch (err) {
          // A hung connection cannot roll back either: discarding it rolls back server-side.
          if (err instanceof TimeoutError) broken = true;
          else {
            try {
              await run(client, 'ROLLBACK');
            } catch {
              broken = true;
            }
          }
          throw err;
        } finally {
          client.release(broken);
        }
      },
      async exec(sql: string) {
        await query(sql);
      },
      async session<T>(
        fn: (s: Queryable) => Promise<T>,
        opts: { timeoutMs?: number; signal?: AbortSignal } = {},
      ): Promise<T> {
        opts.signal?.throwIfAborted();
        const ms = opts.timeoutMs ?? deadlineMs;
        const client = await dedicated();
        const s: Queryable = {
          query: <R>(sql: string, params?: readonly unknown[]) => {
            noteSqlStatement();
            return run<R>(client as pg.PoolClient, sql, params, ms);
          },
          async exec(sql: string) {
            await s.query(sql);
          },
        };
        let pid: number | undefined;
        // A cancel request for its backend (listened for once pid is known), from a connection
        // of its own (the pool may be busy).
        const cancel = () => {
          void dedicated()
            .then(async (c) => {
              try {
                await c.query('SELECT pg_cancel_backend($1)', [pid]);
              } finally {
                await c.end();
              }
            })
            .catch(() => {});
        };
        try {
          pid = (await s.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
          opts.signal?.addEventListener('abort', cancel, { once: true });
          opts.signal?.throwIfAborted(); // aborted while connecting
          if (ms) await s.exec(`SET statement_timeout = ${Math.max(1, Math.round(ms))}`);
          return await fn(s);
        } finally {
          opts.signal?.removeEventListener('abort', cancel);
          // Closed: its settings and session locks end with it.
          await client.end().catch(() => {});
        }
      },
      async listen(channel, onNotify) {
        const client = await acquire(deadlineMs);
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
        try {
          await run(client, `LISTEN ${pg.escapeIdentifier(channel)}`);
        } catch (err) {
          client.off('notification', handler);
          client.off('error', onError);
          client.release(true);
          throw err;
        }
        return async () => {
          client.off('notification', handler);
          try {
            if (!lost) await run(client, `UNLISTEN ${pg.escapeIdentifier(channel)}`);
          } catch {
            lost = true;
          } finally {
            client.off('error', onError);
            client.release(lost);
          }
        };
      },
      withDeadline: (ms: number) => view(ms),
      poolStats(): PoolStats {
        return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
      },
      async close() {
        await pool.end();
      },
    };
  };
  return view(undefined);
}

/** SQLSTATE of a server error (a clean failure on a healthy connection). */
function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
