import type { Queryable } from '../../sql/db.ts';
import type {
  ChangePage,
  ContainerDef,
  FeedRange,
  LagOptions,
  ReadChangesOptions,
} from '../port.ts';
import { ProjectionError } from '../port.ts';
import { charge } from './charge.ts';
import { boundsOf } from './feed-layout.ts';
import { LIVE } from './query-sql.ts';
import { type DocRow, toStored } from './rows.ts';
import { q, tableName } from './schema.ts';

/**
 * The change feed of one feed range, latest-version mode: each live item once, at the
 * position of its last write, ordered by (txid, lsn).
 *
 * Why nothing is lost with concurrent writers: every write stamps its row with the id of
 * its own transaction (txid). The reader only returns rows whose txid is below the xmin
 * of its snapshot; every transaction below xmin has finished, and any later transaction
 * gets a txid >= xmin. So once the reader has passed a position below xmin, no row can
 * ever appear behind it: a transaction that commits late has a txid the horizon has not
 * reached yet, and an update moves its row to a new, higher position. Writers of one
 * partition key also take an advisory lock before they get their txid, so within a
 * partition key the feed order is the commit order.
 */

interface Position {
  t: string;
  l: number;
  /**
   * 'now' as a snapshot (`xmin:xmax:xip…`): rows of transactions it saw as finished are
   * skipped, so a start from now neither re-reads what was committed before it (even while
   * another transaction holds the horizon back) nor loses what was still in flight.
   * Dropped once the position passes the snapshot's xmax.
   */
  n?: string;
}

/** The token names the range it was read from ([a, b) in epk), so it fits any part of it. */
interface FeedToken extends Position {
  c: string;
  a: number;
  b: number;
}

function decode(token: string, def: ContainerDef, [lo, hi]: [number, number]): Position {
  let t: unknown;
  try {
    t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (err) {
    throw new ProjectionError('bad_request', 'malformed change-feed continuation', err);
  }
  const f = t as FeedToken & { r?: unknown };
  // Tokens written before ranges had bounds name their range by id.
  const [a, b] =
    f !== null && typeof f === 'object' && typeof f.r === 'string'
      ? boundsOf({ id: f.r })
      : [f?.a, f?.b];
  if (
    f === null ||
    typeof f !== 'object' ||
    f.c !== def.name ||
    !Number.isSafeInteger(a) ||
    !Number.isSafeInteger(b) ||
    (a as number) > lo ||
    (b as number) < hi ||
    typeof f.t !== 'string' ||
    !/^\d+$/.test(f.t) ||
    !Number.isSafeInteger(f.l)
  ) {
    throw new ProjectionError(
      'bad_request',
      `continuation does not belong to ${def.name} range [${lo}, ${hi})`,
    );
  }
  if (f.n !== undefined && (typeof f.n !== 'string' || !/^\d+:\d+:[\d,]*$/.test(f.n)))
    throw new ProjectionError('bad_request', 'malformed change-feed continuation');
  return { t: f.t, l: f.l, ...(f.n ? { n: f.n } : {}) };
}

const encode = (def: ContainerDef, [a, b]: [number, number], p: Position): string =>
  Buffer.from(JSON.stringify({ c: def.name, a, b, ...p } satisfies FeedToken)).toString(
    'base64url',
  );

/**
 * Where `range` lies in the current layout: inside one range (read it: after a merge the
 * part is served by the merged range), or across several ('gone': it was split).
 */
export function checkRange(
  layout: FeedRange[],
  bounds: [number, number],
  id: string,
): 'ok' | 'gone' {
  const [lo, hi] = bounds;
  const over = layout.filter((r) => {
    const [a, b] = boundsOf(r);
    return a < hi && lo < b;
  });
  if (over.length === 0)
    throw new ProjectionError('bad_request', `unknown feed range ${JSON.stringify(id)}`);
  if (over.length > 1) return 'gone';
  const [a, b] = boundsOf(over[0] as FeedRange);
  return a <= lo && hi <= b ? 'ok' : 'gone';
}

/** The `ts` bound of a first read from a time. */
function sinceOf(continuation: string | null, opts: ReadChangesOptions): number | null {
  if (continuation || !opts.startTime || opts.startTime === 'now') return null;
  const s = Math.floor(opts.startTime.getTime() / 1000);
  if (!Number.isFinite(s))
    throw new ProjectionError('bad_request', 'startTime must be a valid date');
  return s;
}

export async function readChanges(
  db: Queryable,
  def: ContainerDef,
  bounds: [number, number],
  continuation: string | null,
  maxItems: number,
  opts: ReadChangesOptions = {},
): Promise<ChangePage> {
  if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 10_000) {
    throw new ProjectionError('bad_request', 'maxItems must be an integer between 1 and 10000');
  }
  if (!continuation && opts.startTime === 'now') {
    const { rows } = await db.query<{ s: string; x: string }>(
      'SELECT pg_current_snapshot()::text AS s, pg_snapshot_xmin(pg_current_snapshot())::text AS x',
    );
    const snap = rows[0] as { s: string; x: string };
    const pos = { t: (BigInt(snap.x) - 1n).toString(), l: Number.MAX_SAFE_INTEGER, n: snap.s };
    return { items: [], continuation: encode(def, bounds, pos), requestCharge: charge.changes(0) };
  }
  const from: Position = continuation ? decode(continuation, def, bounds) : { t: '0', l: 0 };
  const since = sinceOf(continuation, opts);
  const params: unknown[] = [bounds[0], bounds[1], from.t, from.l, maxItems];
  if (since !== null) params.push(since);
  const seen = from.n
    ? `AND NOT pg_visible_in_snapshot(txid, $${params.push(from.n)}::pg_snapshot)`
    : '';
  const after = `epk >= $1 AND epk < $2 AND (txid, lsn) > ($3::xid8, $4::bigint) AND ${LIVE}
          ${since !== null ? 'AND ts >= $6' : ''} ${seen}`;
  // The horizon comes from the same statement (one snapshot) as the rows below it, and so
  // does `pending`: committed rows of the range beyond the horizon (an older transaction
  // is still open), which a read a moment later will return.
  const { rows } = await db.query<
    DocRow & { txid: string | null; lsn: number | string; horizon: string; pending: boolean }
  >(
    `WITH h AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x)
     SELECT h.x::text AS horizon,
            EXISTS (SELECT 1 FROM ${q(tableName(def))} WHERE txid >= h.x AND ${after}) AS pending,
            r.* FROM h LEFT JOIN LATERAL (
       SELECT body, etag, ts, txid AS pos, txid::text AS txid, lsn FROM ${q(tableName(def))}
        WHERE ${after} AND txid < h.x
        ORDER BY txid, lsn LIMIT $5) r ON true
     ORDER BY r.pos, r.lsn`,
    params,
  );
  const found = rows.filter((r) => r.txid !== null);
  const last = found[found.length - 1];
  let pos: Position = from;
  if (last) pos = { t: last.txid as string, l: Number(last.lsn), ...(from.n ? { n: from.n } : {}) };
  // Past the snapshot's xmax every row is newer than 'now': the snapshot is no longer needed.
  if (pos.n && BigInt(pos.t) >= BigInt(pos.n.split(':')[1] as string)) pos = { t: pos.t, l: pos.l };
  else if (since !== null) {
    // Nothing since startTime below the horizon: continue from the horizon, so later reads
    // need no time filter and skip nothing written before it.
    pos = { t: (BigInt(rows[0]?.horizon ?? '1') - 1n).toString(), l: Number.MAX_SAFE_INTEGER };
  }
  return {
    items: found.map((r) => toStored(r)),
    continuation: encode(def, bounds, pos),
    requestCharge: charge.changes(found.length),
    pending: rows[0]?.pending === true,
  };
}

/** Changes after the continuation in the range, counted in the feed index up to `max`. */
export async function countChanges(
  db: Queryable,
  def: ContainerDef,
  bounds: [number, number],
  continuation: string | null,
  opts: LagOptions,
): Promise<number> {
  if (!continuation && opts.startTime === 'now') return 0;
  const from: Position = continuation ? decode(continuation, def, bounds) : { t: '0', l: 0 };
  const since = sinceOf(continuation, opts);
  const params: unknown[] = [
    bounds[0],
    bounds[1],
    from.t,
    from.l,
    Math.max(0, Math.floor(opts.max)),
  ];
  if (since !== null) params.push(since);
  const seen = from.n
    ? `AND NOT pg_visible_in_snapshot(txid, $${params.push(from.n)}::pg_snapshot)`
    : '';
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${q(tableName(def))}
      WHERE epk >= $1 AND epk < $2 AND (txid, lsn) > ($3::xid8, $4::bigint) AND ${LIVE}
        ${since !== null ? 'AND ts >= $6' : ''} ${seen}
      LIMIT $5) x`,
    params,
  );
  return rows[0]?.n ?? 0;
}
