import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../sql/db.ts';
import { hashKey } from '../hash.ts';
import type { BulkOp, ContainerDef, Doc } from '../port.ts';
import { checkField, effectiveTtl, partitionKeyOf } from '../validate.ts';
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

/** Cuts ops into segments of one kind with each item at most once. */
export function segment(def: ContainerDef, ops: BulkOp[], max = BULK_SEGMENT): Segment[] {
  const out: Segment[] = [];
  let cur: Segment | undefined;
  let seen = new Set<string>();
  ops.forEach((op, i) => {
    const key =
      op.op === 'upsert'
        ? keyOf(partitionKeyOf(def, op.doc), String(op.doc.id))
        : keyOf(op.partitionKey, op.id);
    if (!cur || cur.kind !== op.op || seen.has(key) || cur.indexes.length >= max) {
      cur = { kind: op.op, indexes: [] };
      seen = new Set();
      out.push(cur);
    }
    seen.add(key);
    cur.indexes.push(i);
  });
  return out;
}

const EXPIRES =
  'CASE WHEN d.ttl IS NULL THEN NULL ELSE statement_timestamp() + make_interval(secs => d.ttl) END';

/** A validated upsert (prepareDoc's output). */
export interface PreparedDoc {
  body: Doc;
  pk: string;
  json: string;
}

/**
 * Upserts one segment in one statement; per op: 201 inserted, 200 replaced, 412 skipped
 * because the stored item's `ifNewer` property is not lower (the guard is in the statement,
 * under the row lock, so no read-then-write race).
 */
export async function upsertSegment(
  db: Queryable,
  t: BulkTarget,
  docs: PreparedDoc[],
  ifNewer?: string,
): Promise<{ statuses: number[]; requestCharge: number }> {
  const pks: string[] = [];
  const ids: string[] = [];
  const bodies: string[] = [];
  const etags: string[] = [];
  const ttls: (number | null)[] = [];
  const ranges: number[] = [];
  let requestCharge = 0;
  for (const { body, pk, json } of docs) {
    pks.push(pk);
    ids.push(body.id);
    bodies.push(json);
    etags.push(`"${randomUUID()}"`);
    ttls.push(effectiveTtl(t.def, body));
    ranges.push(hashKey(pk) % t.ranges);
    requestCharge += charge.write(Buffer.byteLength(json));
  }
  const lockKeys = t.keyLocks
    ? [...new Set(pks.map((pk) => hashKey(pk) | 0))].sort((a, b) => a - b)
    : [];
  const guard = ifNewer
    ? `WHERE COALESCE((x.body #>> ${lit(`{${checkField(ifNewer).join(',')}}`)})::numeric, -1)
             < (excluded.body #>> ${lit(`{${checkField(ifNewer).join(',')}}`)})::numeric`
    : '';
  const { rows } = await db.query<{ pk: string; id: string; inserted: boolean }>(
    `WITH l AS MATERIALIZED (
       SELECT count(*) AS locked FROM (
         SELECT pg_advisory_xact_lock($1::int, k) FROM unnest($2::int[]) AS u(k)
       ) s
     )
     INSERT INTO ${t.table} AS x (pk, id, body, etag, ts, lsn, txid, feed_range, expires_at)
     SELECT d.pk, d.id, d.body, d.etag, extract(epoch FROM statement_timestamp())::bigint,
            nextval('${LSN_SEQUENCE}'), pg_current_xact_id(), d.fr, ${EXPIRES}
       FROM l, unnest($3::text[], $4::text[], $5::jsonb[], $6::text[], $7::int[], $8::int[])
              WITH ORDINALITY AS d(pk, id, body, etag, ttl, fr, o)
      ORDER BY d.o
     ON CONFLICT (pk, id) DO UPDATE SET body = excluded.body, etag = excluded.etag, ts = excluded.ts,
            lsn = excluded.lsn, txid = excluded.txid, feed_range = excluded.feed_range,
            expires_at = excluded.expires_at
            ${guard}
     RETURNING x.pk, x.id, (x.xmax = 0) AS inserted`,
    [t.containerNo, lockKeys, pks, ids, bodies, etags, ttls, ranges],
  );
  const inserted = new Map(rows.map((r) => [keyOf(r.pk, r.id), r.inserted]));
  return {
    statuses: pks.map((pk, i) => {
      const r = inserted.get(keyOf(pk, ids[i] as string));
      return r === undefined ? 412 : r ? 201 : 200;
    }),
    requestCharge,
  };
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
