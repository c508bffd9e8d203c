/**
 * One small interface over PostgreSQL engines: a `pg` pool on a server, or PGlite in-process.
 * Everything that speaks SQL (canonical store, embedded projection store, outbox) uses this.
 */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<T>>;
  /** Runs a multi-statement script (no parameters), e.g. a migration file. */
  exec(sql: string): Promise<void>;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface Db extends Queryable {
  readonly engine: 'pg' | 'pglite';
  /** Runs fn in one transaction; commits on resolve, rolls back on throw. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * fn on a connection of its own (not one of the pool's, which serve traffic meanwhile),
   * outside any transaction: for statements that cannot run in one (CREATE INDEX
   * CONCURRENTLY) and for session-level locks and settings. The connection is closed
   * afterwards, so nothing of the session outlives fn. Each statement is bounded by
   * timeoutMs, on the client and as the server's statement_timeout (default: this Db's
   * deadline); aborting `signal` cancels the statement in progress (from another new
   * connection). A server only: PGlite is one session (use transaction()).
   */
  session<T>(
    fn: (s: Queryable) => Promise<T>,
    opts?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<T>;
  /** LISTEN on a channel; resolves to an unsubscribe function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * The same pool with every call bounded: a statement, or a wait for a connection, that
   * takes longer than ms fails with TimeoutError (and its connection is discarded), so a
   * hung store turns into a fast error instead of a hung request.
   */
  withDeadline(ms: number): Db;
  poolStats(): PoolStats;
  close(): Promise<void>;
}

/**
 * A jsonb parameter in PostgreSQL's binary format (a version byte, 1, then the JSON text).
 * Both engines send a byte array as a binary parameter, so a large document (a bulk write's
 * rows) is encoded to UTF-8 once, natively, instead of by the client's per-character text
 * path; PostgreSQL parses the JSON exactly as from text.
 */
export function jsonbParam(json: string): Uint8Array {
  const bytes = Buffer.allocUnsafe(Buffer.byteLength(json) + 1);
  bytes[0] = 1;
  bytes.write(json, 1);
  return bytes;
}
