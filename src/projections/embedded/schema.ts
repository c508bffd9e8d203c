import { createHash } from 'node:crypto';
import type { Db, Queryable } from '../../sql/db.ts';
import { boundLockWaits, DDL_LOCK_TIMEOUT_MS } from '../../sql/ddl-lock.ts';
import { type ContainerDef, ProjectionError } from '../port.ts';
import { splitPath } from '../validate.ts';
import { EPK_SQL, LAYOUT_DDL, LAYOUT_TABLE } from './feed-layout.ts';

/**
 * DDL for the embedded store, generated from containers.json: one table per container,
 * and one B-tree expression index per composite index. Strings compare byte-wise
 * (COLLATE "C"), like Cosmos, and the same expressions are used by the query builder
 * so the planner can match them.
 */

export const LSN_SEQUENCE = 'proj_lsn';

/** NOTIFY channel of committed writes (payload: the table name), for readers in other processes. */
export const CHANGE_CHANNEL = 'asora_projections';

const NOTIFY_FUNCTION = `
    CREATE OR REPLACE FUNCTION proj_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('${CHANGE_CHANNEL}', TG_TABLE_NAME);
      RETURN NULL;
    END $$;`;

/** One NOTIFY per writing statement (PostgreSQL folds repeats within a transaction). */
const notifyTrigger = (t: string) => `
    CREATE OR REPLACE TRIGGER ${q(`${t}_notify`)} AFTER INSERT OR UPDATE ON ${q(t)}
      FOR EACH STATEMENT EXECUTE FUNCTION proj_notify_change();`;

export function tableName(def: ContainerDef): string {
  return `proj_${def.name.toLowerCase()}`;
}

export const q = (ident: string): string => `"${ident.replaceAll('"', '""')}"`;

/** SQL literal for a text value (only used for names from containers.json / field names). */
export const lit = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/** The SQL expression for a document property given as path segments. */
export function fieldExpr(def: ContainerDef, segs: string[]): string {
  const pkSegs = splitPath(def.partitionKey);
  if (segs.length === pkSegs.length && segs.every((s, i) => s === pkSegs[i])) return 'pk';
  if (segs.length === 1 && segs[0] === 'id') return 'id';
  if (segs.length === 1) return `((body ->> ${lit(segs[0] as string)}) COLLATE "C")`;
  return `((body #>> ${lit(`{${segs.map((s) => `"${s.replaceAll('"', '\\"')}"`).join(',')}}`)}) COLLATE "C")`;
}

export interface IndexSpec {
  name: string;
  table: string;
  sql: string;
  /** The same build without blocking writes (a server, outside a transaction). */
  concurrently: string;
}

/** Composite indexes → expression indexes, each ending with (pk,) id so keyset pages are index-ordered. */
export function compositeIndexes(def: ContainerDef): IndexSpec[] {
  const table = tableName(def);
  return (def.indexingPolicy.compositeIndexes ?? []).map((declared) => {
    // A declared trailing /id (the keyset tie-breaker Cosmos needs in its index) is the id column below.
    const paths = declared[declared.length - 1]?.path === '/id' ? declared.slice(0, -1) : declared;
    const cols = paths.map(
      (p) => `${fieldExpr(def, splitPath(p.path))} ${p.order === 'descending' ? 'DESC' : 'ASC'}`,
    );
    const lastDir = declared[declared.length - 1]?.order === 'descending' ? 'DESC' : 'ASC';
    const hasPk = cols.some((c) => c.startsWith('pk '));
    // An index that names the partition key serves partition-scoped pages; one that does not
    // serves cross-partition queries (discovery, an author's posts), which the query builder
    // orders by the sort properties, then pk, then id: the same tail here keeps them index-ordered.
    const all = [...cols, ...(hasPk ? [] : [`pk ${lastDir}`]), `id ${lastDir}`];
    const hash = createHash('sha1').update(all.join(',')).digest('hex').slice(0, 10);
    const name = `${table}_ci_${hash}`;
    const on = `${q(name)} ON ${q(table)} (${all.join(', ')})`;
    return {
      name,
      table,
      sql: `CREATE INDEX IF NOT EXISTS ${on}`,
      concurrently: `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${on}`,
    };
  });
}

function tableDdl(def: ContainerDef): string {
  const t = tableName(def);
  return `
    CREATE TABLE IF NOT EXISTS ${q(t)} (
      pk text COLLATE "C" NOT NULL,
      id text COLLATE "C" NOT NULL,
      body jsonb NOT NULL,
      etag text NOT NULL,
      ts bigint NOT NULL,
      lsn bigint NOT NULL,
      txid xid8 NOT NULL,
      feed_range int NOT NULL,
      expires_at timestamptz,
      PRIMARY KEY (pk, id)
    );
    ALTER TABLE ${q(t)} ADD COLUMN IF NOT EXISTS epk bigint GENERATED ALWAYS AS (${EPK_SQL}) STORED;
    -- No planner estimate reads the whole body's statistics (queries filter on expressions
    -- of it), and sampling them is most of an ANALYZE's time (bench/RESULTS.md section h).
    ALTER TABLE ${q(t)} ALTER COLUMN body SET STATISTICS 0;
    DROP INDEX IF EXISTS ${q(`${t}_feed`)};
    CREATE INDEX IF NOT EXISTS ${q(`${t}_feed_pos`)} ON ${q(t)} (txid, lsn);
    CREATE INDEX IF NOT EXISTS ${q(`${t}_expiry`)} ON ${q(t)} (expires_at) WHERE expires_at IS NOT NULL;`;
}

/**
 * DDL of a store kept in its own schema (beside canonical tables in one database) goes
 * there; the store's queries find the tables through the Db's search_path.
 */
async function inSchema(tx: Queryable, schema: string | undefined): Promise<void> {
  if (!schema) return;
  await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${q(schema)}; SET LOCAL search_path TO ${q(schema)}`);
}

// Serialises concurrent provisioning from several processes (CREATE ... IF NOT EXISTS races),
// and index builds (index-builds.ts).
export const PROVISION_LOCK = 0x5072_6f6a;

/** How often a caller that found the provisioning lock taken tries again (ms). */
const LOCK_RETRY_MS = 100;

/** The provisioning lock stayed taken for `ms`: who is in the way, and what to do. */
export const provisionLockBusy = (ms: number, cause?: unknown) =>
  new ProjectionError(
    'conflict',
    `another process has been provisioning or changing the projection indexes for ${ms / 1000} s; try again once it has finished`,
    cause,
  );

/**
 * Tries `tryLock` (a statement answering true when it got the lock) until it succeeds or
 * `ms` have passed. Never waits inside a statement: a concurrent index build waits for every
 * transaction with an older snapshot, a statement waiting for this lock included, while
 * that statement would wait for the build's lock: a deadlock.
 */
export async function retryLock(ms: number, tryLock: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + ms;
  while (!(await tryLock())) {
    if (Date.now() >= until) throw provisionLockBusy(ms);
    await new Promise((r) => setTimeout(r, LOCK_RETRY_MS));
  }
}

/** fn in a transaction holding the provisioning lock (its wait, and every lock wait in fn, bounded by ms). */
async function withProvisionLock(
  db: Db,
  ms: number,
  fn: (tx: Queryable) => Promise<void>,
): Promise<void> {
  await retryLock(ms, () =>
    db.transaction(async (tx) => {
      const { rows } = await tx.query<{ ok: boolean }>(
        `SELECT pg_try_advisory_xact_lock(${PROVISION_LOCK}) AS ok`,
      );
      if (rows[0]?.ok !== true) return false;
      await boundLockWaits(tx, ms);
      await fn(tx);
      return true;
    }),
  );
}

type ProvisionOptions = {
  indexes?: boolean;
  schema?: string;
  /** Bound on each DDL statement's lock wait (default DDL_LOCK_TIMEOUT_MS). */
  lockTimeoutMs?: number;
};

/**
 * Every statement provisionTables runs, in order (the composite indexes apart: their names
 * are hashes of their definitions, so their presence is checked by name).
 */
function provisionDdl(defs: ContainerDef[], notify: boolean): string[] {
  return [
    `CREATE SEQUENCE IF NOT EXISTS ${LSN_SEQUENCE}`,
    LAYOUT_DDL,
    ...(notify ? [NOTIFY_FUNCTION] : []),
    ...defs.flatMap((def) => [tableDdl(def), ...(notify ? [notifyTrigger(tableName(def))] : [])]),
  ];
}

/** Recorded on the LSN sequence once the DDL ran: a change to any statement changes it. */
const fingerprint = (ddl: string[]) =>
  createHash('sha1').update(ddl.join('\n;\n')).digest('hex').slice(0, 20);

/**
 * Whether provisionTables has nothing to do, read from the catalog without taking a lock:
 * its statements, as this build writes them, ran here (the fingerprint on the sequence),
 * and every table and index they and the composite indexes make is still there. Each
 * process provisions at start: on a server a new API or worker process must not queue
 * live traffic behind its DDL.
 */
export async function isProvisioned(
  db: Queryable,
  defs: ContainerDef[],
  opts: ProvisionOptions & { notify: boolean },
): Promise<boolean> {
  const tables = defs.map(tableName);
  const present = [
    ...new Set([
      LAYOUT_TABLE,
      ...tables,
      ...tables.flatMap((t) => [`${t}_feed_pos`, `${t}_expiry`]),
      ...(opts.indexes === false
        ? []
        : defs.flatMap((d) => compositeIndexes(d).map((i) => i.name))),
    ]),
  ];
  const { rows } = await db.query<{ ok: boolean }>(
    `WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = COALESCE($1, current_schema())),
          rel AS (SELECT c.oid, c.relname FROM pg_class c JOIN ns ON c.relnamespace = ns.oid)
     SELECT EXISTS (SELECT 1 FROM rel WHERE relname = $2
                       AND obj_description(rel.oid, 'pg_class') = $3)
        AND (SELECT count(*) FROM rel WHERE relname = ANY($4::text[])) = cardinality($4::text[])
        AND NOT EXISTS (SELECT 1 FROM rel WHERE relname = ANY($5::text[])) AS ok`,
    [
      opts.schema ?? null,
      LSN_SEQUENCE,
      fingerprint(provisionDdl(defs, opts.notify)),
      present,
      tables.map((t) => `${t}_feed`),
    ],
  );
  return rows[0]?.ok === true;
}

/**
 * Creates the sequence, tables and every declared index that is missing. Idempotent, and
 * when there is nothing to do it takes no lock at all (isProvisioned).
 */
export async function provisionTables(
  db: Db,
  defs: ContainerDef[],
  opts: ProvisionOptions = {},
): Promise<void> {
  // Only a server has other processes to tell; PGlite is one process (in-process wake-ups).
  const server = db.engine === 'pg';
  // On a server the composite indexes of tables with rows are built by buildIndexesLive,
  // which writes go on beside: a missing one is no reason to run this DDL.
  const indexes = server ? false : opts.indexes;
  if (await isProvisioned(db, defs, { ...opts, indexes, notify: server })) return;
  const ddl = provisionDdl(defs, server);
  // Bounded, the lock too: an index build (index-builds.ts) may hold it for minutes.
  await withProvisionLock(db, opts.lockTimeoutMs ?? DDL_LOCK_TIMEOUT_MS, async (tx) => {
    await inSchema(tx, opts.schema);
    for (const sql of ddl) await tx.exec(sql);
    if (opts.indexes !== false)
      for (const def of defs) {
        if (server && !(await isEmpty(tx, tableName(def)))) continue;
        for (const ix of compositeIndexes(def)) await tx.exec(ix.sql);
      }
    await tx.exec(`COMMENT ON SEQUENCE ${LSN_SEQUENCE} IS ${lit(fingerprint(ddl))}`);
  });
}

/** Whether a table holds no row (an index on it builds at once, in the provisioning transaction). */
async function isEmpty(tx: Queryable, table: string): Promise<boolean> {
  const { rows } = await tx.query<{ empty: boolean }>(
    `SELECT NOT EXISTS (SELECT 1 FROM ${q(table)}) AS empty`,
  );
  return rows[0]?.empty === true;
}

export interface IndexChanges {
  created: string[];
  dropped: string[];
}

/**
 * Makes each table's composite indexes exactly the declared ones (drops stale, creates
 * missing), in one transaction: PGlite's path (a server's is index-builds.ts).
 */
export async function updateIndexes(
  db: Db,
  defs: ContainerDef[],
  schema?: string,
): Promise<IndexChanges> {
  const out: IndexChanges = { created: [], dropped: [] };
  await withProvisionLock(db, DDL_LOCK_TIMEOUT_MS, async (tx) => {
    await inSchema(tx, schema);
    for (const def of defs) {
      const t = tableName(def);
      const wanted = compositeIndexes(def);
      const { rows } = await tx.query<{ indexname: string }>(
        `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 AND indexname LIKE $2`,
        [t, `${t}\\_ci\\_%`],
      );
      const have = new Set(rows.map((r) => r.indexname));
      for (const name of have) {
        if (!wanted.some((w) => w.name === name)) {
          await tx.exec(`DROP INDEX IF EXISTS ${q(name)}`);
          out.dropped.push(name);
        }
      }
      for (const w of wanted) {
        if (!have.has(w.name)) {
          await tx.exec(w.sql);
          out.created.push(w.name);
        }
      }
    }
  });
  return out;
}
