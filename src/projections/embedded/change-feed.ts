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
  return { t: f.t, l: f.l };
}

const encode = (def: ContainerDef, [a, b]: [number, number], p: Position): string =>
  Buffer.from(JSON.stringify({ c: def.name, a, b, t: p.t, l: p.l } satisfies FeedToken)).toString(
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

/** The `ts` bound of a first read; 'now' is beyond every write, so the read ends at the horizon. */
function sinceOf(continuation: string | null, opts: ReadChangesOptions): number | null {
  if (continuation || !opts.startTime) return null;
  if (opts.startTime === 'now') return Number.MAX_SAFE_INTEGER;
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
  const from = continuation ? decode(continuation, def, bounds) : { t: '0', l: 0 };
  const since = sinceOf(continuation, opts);
  const params: unknown[] = [bounds[0], bounds[1], from.t, from.l, maxItems];
  if (since !== null) params.push(since);
  // The horizon comes from the same statement (one snapshot) as the rows below it.
  const { rows } = await db.query<
    DocRow & { txid: string | null; lsn: number | string; horizon: string }
  >(
    `WITH h AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x)
     SELECT h.x::text AS horizon, r.* FROM h LEFT JOIN LATERAL (
       SELECT body, etag, ts, txid AS pos, txid::text AS txid, lsn FROM ${q(tableName(def))}
        WHERE epk >= $1 AND epk < $2 AND (txid, lsn) > ($3::xid8, $4::bigint)
          AND txid < h.x AND ${LIVE} ${since !== null ? 'AND ts >= $6' : ''}
        ORDER BY txid, lsn LIMIT $5) r ON true
     ORDER BY r.pos, r.lsn`,
    params,
  );
  const found = rows.filter((r) => r.txid !== null);
  const last = found[found.length - 1];
  let pos: Position = from;
  if (last) pos = { t: last.txid as string, l: Number(last.lsn) };
  else if (since !== null) {
    // Nothing since startTime below the horizon: continue from the horizon, so later reads
    // need no time filter and skip nothing written before it.
    pos = { t: (BigInt(rows[0]?.horizon ?? '1') - 1n).toString(), l: Number.MAX_SAFE_INTEGER };
  }
  return {
    items: found.map((r) => toStored(r)),
    continuation: encode(def, bounds, pos),
    requestCharge: charge.changes(found.length),
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
  const from = continuation ? decode(continuation, def, bounds) : { t: '0', l: 0 };
  const since = sinceOf(continuation, opts);
  const params: unknown[] = [
    bounds[0],
    bounds[1],
    from.t,
    from.l,
    Math.max(0, Math.floor(opts.max)),
  ];
  if (since !== null) params.push(since);
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${q(tableName(def))}
      WHERE epk >= $1 AND epk < $2 AND (txid, lsn) > ($3::xid8, $4::bigint) AND ${LIVE}
        ${since !== null ? 'AND ts >= $6' : ''}
      LIMIT $5) x`,
    params,
  );
  return rows[0]?.n ?? 0;
}
