import { jsonbParam, type Queryable } from '../../sql/db.ts';
import { hashKey } from '../hash.ts';
import type { BulkOp, ContainerDef, Doc } from '../port.ts';
import { checkField, effectiveTtl, partitionKeyField, serializeDoc } from '../validate.ts';
import { charge } from './charge.ts';
import { LIVE } from './query-sql.ts';
import { LSN_SEQUENCE, lit } from './schema.ts';

/**
 * The embedded store's bulk path: one statement per segment of at most BULK_SEGMENT
 * operations instead of one autocommit statement per item (one WAL flush per row on a
 * server, one round trip per row on PGlite).
 *
 * A segment is a run of consecutive operations of one kind (upserts or deletes) that
 * touches each (partition key, id) at most once, so one INSERT ... ON CONFLICT can apply
 * it and the given order per item is kept. Upserts take every partition key's advisory
 * lock (sorted, so concurrent segments cannot deadlock) before the transaction gets its
 * txid, exactly as a single write does: the change feed stays gap-free and in commit
 * order per partition key. On a single-session database (PGlite) transactions cannot
 * overlap, so txid order is already commit order and the locks are skipped (BulkTarget.keyLocks).
 */
export const BULK_SEGMENT = 1000;

export interface BulkTarget {
  def: ContainerDef;
  /** Quoted table name. */
  table: string;
  containerNo: number;
  ranges: number;
  /**
   * Take the per-partition-key advisory locks. Needed only where transactions can overlap
   * (a server): on one session (PGlite) each transaction ends before the next begins.
   */
  keyLocks: boolean;
}

export interface Segment {
  kind: 'upsert' | 'delete';
  /** Positions in the caller's op list. */
  indexes: number[];
}

const keyOf = (pk: string, id: string) => `${pk}\u0000${id}`;

/**
 * Cuts n operations into segments of one kind with each item at most once: op i is of
 * kind `kindAt(i)` and writes the item `keyAt(i)` (pk and id joined by keyOf).
 */
export function segmentBy(
  n: number,
  kindAt: (i: number) => Segment['kind'],
  keyAt: (i: number) => string,
  max = BULK_SEGMENT,
): Segment[] {
  const out: Segment[] = [];
  let cur: Segment | undefined;
  let seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const kind = kindAt(i);
    const key = keyAt(i);
    if (!cur || cur.kind !== kind || seen.has(key) || cur.indexes.length >= max) {
      cur = { kind, indexes: [] };
      seen = new Set();
      out.push(cur);
    }
    seen.add(key);
    cur.indexes.push(i);
  }
  return out;
}

/** segmentBy for copies: all upserts, cut where a key repeats or a segment is full. */
export const segmentCopies = (copies: Copy[], max = BULK_SEGMENT) =>
  segmentBy(
    copies.length,
    () => 'upsert',
    (i) => keyOf(copies[i]!.pk, copies[i]!.id),
    max,
  );

/** segmentBy for bulk ops; `pkAt(i)` is op i's partition key (the caller has it from validation). */
export const segment = (ops: BulkOp[], pkAt: (i: number) => string, max = BULK_SEGMENT) =>
  segmentBy(
    ops.length,
    (i) => ops[i]!.op,
    (i) => {
      const op = ops[i]!;
      return keyOf(pkAt(i), op.op === 'upsert' ? String(op.doc.id) : op.id);
    },
    max,
  );

const EXPIRES =
  'CASE WHEN d.ttl IS NULL THEN NULL ELSE statement_timestamp() + make_interval(secs => d.ttl) END';

/** A validated upsert (serializeDoc's output). */
export interface PreparedDoc {
  doc: Doc;
  pk: string;
  json: string;
}

/** A validated copy set: the shared document's JSON and effective TTL, once. */
export interface PreparedCopies {
  json: string;
  ttl: number | null;
  /** Charge of writing one copy. */
  charge: number;
}

/** Validates and serialises a copy set's shared document (once for all its copies). */
export function prepareCopies(def: ContainerDef, doc: Doc): PreparedCopies {
  const { json } = serializeDoc(def, doc);
  return { json, ttl: effectiveTtl(def, doc), charge: charge.write(json) };
}

/** One copy: the copy set at index `set`, written under (pk, id). */
export interface Copy {
  set: number;
  pk: string;
  id: string;
}

interface Written {
  /** Set only when some rows were skipped by the guard. */
  written_pk: string[] | null;
  written_id: string[] | null;
  replaced_pk: string[] | null;
  replaced_id: string[] | null;
}

/** One JSON string literal (ids and partition keys are checked strings). */
const str = (s: string): string => JSON.stringify(s);

/**
 * The rows of one upsert statement: a FROM item yielding d(pk, id, ttl, fr, b) from the
 * parameters $1..$n, and each row's partition key and id, in order.
 */
interface RowSource {
  from: string;
  params: unknown[];
  pks: string[];
  ids: string[];
  /** hashKey of each partition key (the feed range and the advisory lock come from it). */
  hashes: number[];
}

/**
 * Upserts one segment in one statement; per op: 201 inserted, 200 replaced, 412 skipped
 * because the stored item's `ifNewer` property is not lower (the guard is in the statement,
 * under the row lock, so no read-then-write race).
 *
 * The rows travel as one JSON array parameter: the documents' JSON is spliced in as it is
 * (no array literal to escape and parse, no parsed copy), and PostgreSQL parses it once.
 * bench/fanout.ts compares both input shapes on each engine.
 */
export function upsertSegment(
  db: Queryable,
  t: BulkTarget,
  docs: PreparedDoc[],
  ifNewer?: string,
): Promise<{ statuses: number[]; requestCharge: number }> {
  let requestCharge = 0;
  const rows: string[] = [];
  const hashes: number[] = [];
  for (const { doc, pk, json } of docs) {
    const ttl = effectiveTtl(t.def, doc);
    const h = hashKey(pk);
    hashes.push(h);
    rows.push(
      `{"pk":${str(pk)},"id":${str(doc.id)},"ttl":${ttl ?? 'null'},"fr":${h % t.ranges},"b":${json}}`,
    );
    requestCharge += charge.write(json);
  }
  const source: RowSource = {
    from: 'jsonb_to_recordset($1::jsonb) AS d(pk text, id text, ttl int, fr int, b jsonb)',
    params: [jsonbParam(`[${rows.join(',')}]`)],
    pks: docs.map((d) => d.pk),
    ids: docs.map((d) => d.doc.id),
    hashes,
  };
  return writeRows(db, t, source, ifNewer, requestCharge);
}

/**
 * Upserts one segment of copies in one statement, answering as upsertSegment. Each shared
 * document travels once, with the copies' keys beside it, and the statement builds each
 * copy's body (the document with the copy's id and partition key): a post fanned out to
 * 1,000 feeds sends its text once, not 1,000 times.
 */
export function upsertCopiesSegment(
  db: Queryable,
  t: BulkTarget,
  sets: PreparedCopies[],
  copies: Copy[],
  ifNewer?: string,
): Promise<{ statuses: number[]; requestCharge: number }> {
  // The sets this segment uses, numbered in the order it meets them.
  const local = new Map<number, number>();
  const setRows: string[] = [];
  const rows: string[] = [];
  const hashes: number[] = [];
  let requestCharge = 0;
  for (const c of copies) {
    let n = local.get(c.set);
    if (n === undefined) {
      n = local.size;
      local.set(c.set, n);
      const s = sets[c.set]!;
      setRows.push(`{"n":${n},"ttl":${s.ttl ?? 'null'},"b":${s.json}}`);
    }
    const h = hashKey(c.pk);
    hashes.push(h);
    rows.push(`{"pk":${str(c.pk)},"id":${str(c.id)},"fr":${h % t.ranges},"s":${n}}`);
    requestCharge += sets[c.set]!.charge;
  }
  const pkPath = `ARRAY[${partitionKeyField(t.def).map(lit).join(',')}]::text[]`;
  const source: RowSource = {
    from: `(SELECT c.pk, c.id, s.ttl, c.fr,
                   jsonb_set(s.b || jsonb_build_object('id', c.id), ${pkPath}, to_jsonb(c.pk)) AS b
              FROM jsonb_to_recordset($1::jsonb) AS c(pk text, id text, fr int, s int)
              JOIN jsonb_to_recordset($2::jsonb) AS s(n int, ttl int, b jsonb) ON s.n = c.s) AS d`,
    params: [jsonbParam(`[${rows.join(',')}]`), jsonbParam(`[${setRows.join(',')}]`)],
    pks: copies.map((c) => c.pk),
    ids: copies.map((c) => c.id),
    hashes,
  };
  return writeRows(db, t, source, ifNewer, requestCharge);
}

/**
 * The upsert statement shared by both segment kinds. The answer is one row: which rows were
 * written (only when the guard skipped some) and which were replaced. Etags come from
 * PostgreSQL's own PRNG: gen_random_uuid() asks the OS for entropy per row, which on
 * PGlite is a call out of WASM each.
 */
async function writeRows(
  db: Queryable,
  t: BulkTarget,
  src: RowSource,
  ifNewer: string | undefined,
  requestCharge: number,
): Promise<{ statuses: number[]; requestCharge: number }> {
  const n = src.pks.length;
  const field = ifNewer ? lit(`{${checkField(ifNewer).join(',')}}`) : '';
  const guard = ifNewer
    ? `WHERE COALESCE((x.body #>> ${field})::numeric, -1) < (excluded.body #>> ${field})::numeric`
    : '';
  const params = [...src.params];
  const param = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  // Writers of one key serialise on its advisory lock before the txid is taken (see above).
  let locks = '';
  if (t.keyLocks) {
    const keys = [...new Set(src.hashes.map((h) => h | 0))].sort((a, b) => a - b);
    locks = `l AS MATERIALIZED (
         SELECT count(*) AS locked FROM (
           SELECT pg_advisory_xact_lock(${Number(t.containerNo)}, k) FROM unnest(${param(keys)}::int[]) AS u(k)
         ) s
       ),`;
  }
  const total = param(n);
  const { rows: out } = await db.query<Written>(
    `WITH ${locks} w AS (
       INSERT INTO ${t.table} AS x (pk, id, body, etag, ts, lsn, txid, feed_range, expires_at)
       SELECT d.pk, d.id, d.b, '"' || md5(random()::text || d.id) || '"',
              extract(epoch FROM statement_timestamp())::bigint,
              nextval('${LSN_SEQUENCE}'), pg_current_xact_id(), d.fr, ${EXPIRES}
         FROM ${t.keyLocks ? 'l, ' : ''}${src.from}
       ON CONFLICT (pk, id) DO UPDATE SET body = excluded.body, etag = excluded.etag,
              ts = excluded.ts, lsn = excluded.lsn, txid = excluded.txid,
              feed_range = excluded.feed_range, expires_at = excluded.expires_at
              ${guard}
       RETURNING (x.xmax = 0) AS inserted, x.pk, x.id
     )
     SELECT CASE WHEN count(*) < ${total} THEN COALESCE(array_agg(pk), '{}') END AS written_pk,
            CASE WHEN count(*) < ${total} THEN COALESCE(array_agg(id), '{}') END AS written_id,
            array_agg(pk) FILTER (WHERE NOT inserted) AS replaced_pk,
            array_agg(id) FILTER (WHERE NOT inserted) AS replaced_id
       FROM w`,
    params,
  );
  const r = out[0]!;
  // Usually every row was written and inserted: 201 each, with no per-row answer to read.
  if (!r.written_pk && !r.replaced_pk)
    return { statuses: new Array<number>(n).fill(201), requestCharge };
  const written =
    r.written_pk && new Set(r.written_pk.map((pk, i) => keyOf(pk, r.written_id![i]!)));
  const replaced = new Set((r.replaced_pk ?? []).map((pk, i) => keyOf(pk, r.replaced_id![i]!)));
  const statuses = src.pks.map((pk, i) => {
    const key = keyOf(pk, src.ids[i]!);
    if (written && !written.has(key)) return 412;
    return replaced.has(key) ? 200 : 201;
  });
  return { statuses, requestCharge };
}

/** Deletes one segment in one statement; per op: 204 deleted, 404 missing (or expired). */
export async function deleteSegment(
  db: Queryable,
  t: BulkTarget,
  keys: BulkOp[],
): Promise<{ statuses: number[]; requestCharge: number }> {
  const pks: string[] = [];
  const ids: string[] = [];
  for (const op of keys) {
    if (op.op !== 'delete') throw new Error('deleteSegment: not a delete');
    pks.push(op.partitionKey);
    ids.push(op.id);
  }
  const { rows } = await db.query<{ pk: string; id: string; live: boolean }>(
    `DELETE FROM ${t.table} WHERE (pk, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
     RETURNING pk, id, ${LIVE} AS live`,
    [pks, ids],
  );
  const live = new Map(rows.map((r) => [keyOf(r.pk, r.id), r.live]));
  return {
    statuses: pks.map((pk, i) => (live.get(keyOf(pk, ids[i] as string)) ? 204 : 404)),
    requestCharge: charge.delete * keys.length,
  };
}
