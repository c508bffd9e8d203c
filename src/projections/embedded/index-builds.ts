import type { Db, Queryable } from '../../sql/db.ts';
import { DDL_LOCK_TIMEOUT_MS, INDEX_BUILD_TIMEOUT_MS } from '../../sql/ddl-lock.ts';
import { type ContainerDef, ProjectionError } from '../port.ts';
import {
  compositeIndexes,
  type IndexChanges,
  type IndexSpec,
  isEmpty,
  PROVISION_LOCK,
  q,
  tableName,
} from './schema.ts';

/**
 * Composite indexes on a PostgreSQL server, changed while the store serves. A plain CREATE
 * INDEX holds a lock that makes every write to its table wait for the whole build; here an
 * index of a table with rows is built (and a stale one dropped) CONCURRENTLY: reads and
 * writes go on, and the build waits for the transactions older than it instead. An empty
 * table's index is built at once, plainly. PGlite, one session, keeps schema.ts's path.
 */

interface Plan {
  table: string;
  /** Declared and missing, or left invalid by a build that did not finish. */
  build: IndexSpec[];
  invalid: Set<string>;
  /** Present and no longer declared (dropped only when asked). */
  stale: string[];
}

/** What differs between the declared composite indexes and the catalog's, per table. */
async function plan(db: Queryable, defs: ContainerDef[], schema?: string): Promise<Plan[]> {
  const tables = defs.map(tableName);
  const { rows } = await db.query<{ tbl: string; name: string; valid: boolean }>(
    `SELECT t.relname AS tbl, c.relname AS name, i.indisvalid AS valid
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = COALESCE($1, current_schema()) AND t.relname = ANY($2::text[])`,
    [schema ?? null, tables],
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
      table,
      build: wanted.filter((w) => have.get(w.name) !== true),
      invalid: new Set(wanted.filter((w) => have.get(w.name) === false).map((w) => w.name)),
      stale: [...have.keys()].filter((name) => !wanted.some((w) => w.name === name)),
    };
  });
}

export interface LiveIndexOptions {
  schema?: string;
  /** Drop indexes no longer declared (update-indexes); a start only adds. */
  dropStale: boolean;
  /**
   * Another process holds the provisioning lock: wait for it (at most DDL_LOCK_TIMEOUT_MS,
   * then a 'conflict' error), or skip (a start: that process is building them).
   */
  wait: boolean;
}

/**
 * Builds the missing and invalid composite indexes, and drops the stale ones when asked, on
 * a connection of its own holding the provisioning lock. Reads the catalog first: with
 * nothing to do it takes no lock and opens no connection.
 */
export async function buildIndexesLive(
  db: Db,
  defs: ContainerDef[],
  opts: LiveIndexOptions,
): Promise<IndexChanges> {
  const none: IndexChanges = { created: [], dropped: [] };
  const todo = (ps: Plan[]) =>
    ps.some((p) => p.build.length > 0 || (opts.dropStale && p.stale.length > 0));
  if (!todo(await plan(db, defs, opts.schema))) return none;
  return db.session(
    async (s) => {
      if (opts.schema) await s.exec(`SET search_path TO ${q(opts.schema)}`);
      await s.exec(`SET lock_timeout = ${DDL_LOCK_TIMEOUT_MS}`);
      try {
        if (opts.wait) await s.query(`SELECT pg_advisory_lock(${PROVISION_LOCK})`);
        else {
          const { rows } = await s.query<{ ok: boolean }>(
            `SELECT pg_try_advisory_lock(${PROVISION_LOCK}) AS ok`,
          );
          if (rows[0]?.ok !== true) return none; // a start: the process holding it builds them
        }
      } catch (err) {
        if ((err as { code?: string }).code !== '55P03') throw err; // lock_not_available
        throw new ProjectionError(
          'conflict',
          `another process has been provisioning or changing the projection indexes for ${DDL_LOCK_TIMEOUT_MS / 1000} s; run this again once it has finished`,
          err,
        );
      }
      // A build waits for older transactions: no reader or writer waits for it.
      await s.exec(`SET lock_timeout = ${INDEX_BUILD_TIMEOUT_MS}`);
      const out: IndexChanges = { created: [], dropped: [] };
      // Again under the lock: another process may have built them meanwhile.
      for (const p of await plan(s, defs)) {
        const stale = opts.dropStale ? p.stale : [];
        if (p.build.length === 0 && stale.length === 0) continue;
        const live = !(await isEmpty(s, p.table));
        const how = live ? 'CONCURRENTLY ' : '';
        for (const name of [...stale, ...p.invalid]) {
          await s.exec(`DROP INDEX ${how}IF EXISTS ${q(name)}`);
          if (stale.includes(name)) out.dropped.push(name);
        }
        for (const ix of p.build) {
          try {
            await s.exec(live ? ix.concurrently : ix.sql);
          } catch (err) {
            // An interrupted concurrent build leaves an invalid index behind: not kept.
            await s.exec(`DROP INDEX ${how}IF EXISTS ${q(ix.name)}`).catch(() => undefined);
            throw err;
          }
          out.created.push(ix.name);
        }
      }
      return out;
    },
    { timeoutMs: INDEX_BUILD_TIMEOUT_MS },
  );
}
