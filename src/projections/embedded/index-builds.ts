import type { Db, Queryable } from '../../sql/db.ts';
import { DDL_LOCK_TIMEOUT_MS, INDEX_BUILD_TIMEOUT_MS } from '../../sql/ddl-lock.ts';
import type { ContainerDef } from '../port.ts';
import {
  compositeIndexes,
  type IndexChanges,
  type IndexSpec,
  PROVISION_LOCK,
  q,
  retryLock,
  tableName,
} from './schema.ts';

/**
 * Composite indexes on a PostgreSQL server, changed while the store serves. A plain CREATE
 * INDEX holds a lock that makes every write to its table wait for the whole build; here each
 * index is built (and a stale one dropped) CONCURRENTLY: reads and writes go on, and the
 * build waits for the transactions older than it instead. (Indexes of a table created empty
 * are built with it, in the provisioning transaction.) PGlite, one session, keeps
 * schema.ts's path.
 */

interface Plan {
  /** Declared and missing, or left invalid by a build that did not finish. */
  build: IndexSpec[];
  invalid: string[];
  /** Present and no longer declared (dropped only when asked). */
  stale: string[];
}

/** What differs between the declared composite indexes and the catalog's, per table. */
async function plan(db: Queryable, defs: ContainerDef[], schema?: string): Promise<Plan[]> {
  const { rows } = await db.query<{ tbl: string; name: string; valid: boolean }>(
    `SELECT t.relname AS tbl, c.relname AS name, i.indisvalid AS valid
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = COALESCE($1, current_schema()) AND t.relname = ANY($2::text[])`,
    [schema ?? null, defs.map(tableName)],
  );
  return defs.map((def) => {
    const table = tableName(def);
    const have = new Map(
      rows
        .filter((r) => r.tbl === table && r.name.startsWith(`${table}_ci_`))
        .map((r) => [r.name, r.valid]),
    );
    const wanted = compositeIndexes(def);
    return {
      build: wanted.filter((w) => have.get(w.name) !== true),
      invalid: wanted.filter((w) => have.get(w.name) === false).map((w) => w.name),
      stale: [...have.keys()].filter((name) => !wanted.some((w) => w.name === name)),
    };
  });
}

/** What a build did; `busy`: another process held the lock (without `wait`, nothing was tried). */
export type LiveIndexChanges = IndexChanges & { busy?: true };

export interface LiveIndexOptions {
  schema?: string;
  /** Drop indexes no longer declared (update-indexes); a start only adds. */
  dropStale: boolean;
  /**
   * Another process holds the provisioning lock: wait for it (at most DDL_LOCK_TIMEOUT_MS,
   * then a 'conflict' error), or skip (a start: that process is building them).
   */
  wait: boolean;
  /** Cancels the statement in progress (a process closing its store mid-build). */
  signal?: AbortSignal;
}

/**
 * Builds the missing and invalid composite indexes, and drops the stale ones when asked, on
 * a connection of its own holding the provisioning lock. Reads the catalog first: with
 * nothing to do it takes no lock and opens no connection. A build that does not finish
 * leaves an invalid index (PostgreSQL keeps it up to date but never reads it): the next
 * call drops it and builds it again.
 */
export async function buildIndexesLive(
  db: Db,
  defs: ContainerDef[],
  opts: LiveIndexOptions,
): Promise<LiveIndexChanges> {
  const none: IndexChanges = { created: [], dropped: [] };
  const todo = (ps: Plan[]) =>
    ps.some((p) => p.build.length > 0 || (opts.dropStale && p.stale.length > 0));
  if (!todo(await plan(db, defs, opts.schema))) return none;
  return db.session(
    async (s) => {
      if (opts.schema) await s.exec(`SET search_path TO ${q(opts.schema)}`);
      const tryLock = async () =>
        (await s.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${PROVISION_LOCK}) AS ok`))
          .rows[0]?.ok === true;
      if (opts.wait) await retryLock(DDL_LOCK_TIMEOUT_MS, tryLock);
      else if (!(await tryLock())) return { ...none, busy: true }; // the holder builds them
      // A concurrent build waits for older transactions: no reader or writer waits for it.
      await s.exec(`SET lock_timeout = ${INDEX_BUILD_TIMEOUT_MS}`);
      const out: IndexChanges = { created: [], dropped: [] };
      // Again under the lock: another process may have built them meanwhile.
      for (const p of await plan(s, defs)) {
        const stale = opts.dropStale ? p.stale : [];
        for (const name of [...stale, ...p.invalid]) {
          opts.signal?.throwIfAborted();
          await s.exec(`DROP INDEX CONCURRENTLY IF EXISTS ${q(name)}`);
        }
        out.dropped.push(...stale);
        for (const ix of p.build) {
          opts.signal?.throwIfAborted();
          await s.exec(ix.concurrently);
          out.created.push(ix.name);
        }
      }
      return out;
    },
    { timeoutMs: INDEX_BUILD_TIMEOUT_MS, signal: opts.signal },
  );
}
