import type { Queryable } from '../../sql/db.ts';
import type { ChangePage, ContainerDef, FeedRange } from '../port.ts';
import { ProjectionError } from '../port.ts';
import { charge } from './charge.ts';
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

interface FeedToken extends Position {
  c: string;
  r: string;
}

export function feedRanges(n: number): FeedRange[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${i}-of-${n}` }));
}

function rangeIndex(range: FeedRange, n: number): number {
  const m = /^(\d+)-of-(\d+)$/.exec(range?.id ?? '');
  if (!m || Number(m[2]) !== n || Number(m[1]) >= n) {
    throw new ProjectionError(
      'bad_request',
      `unknown feed range ${JSON.stringify(range?.id)} (this store has ${n})`,
    );
  }
  return Number(m[1]);
}

function decode(token: string, def: ContainerDef, range: FeedRange): Position {
  let t: unknown;
  try {
    t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (err) {
    throw new ProjectionError('bad_request', 'malformed change-feed continuation', err);
  }
  const f = t as FeedToken;
  if (
    f === null ||
    typeof f !== 'object' ||
    f.c !== def.name ||
    f.r !== range.id ||
    typeof f.t !== 'string' ||
    !/^\d+$/.test(f.t) ||
    !Number.isSafeInteger(f.l)
  ) {
    throw new ProjectionError(
      'bad_request',
      `continuation does not belong to ${def.name} range ${range.id}`,
    );
  }
  return { t: f.t, l: f.l };
}

const encode = (def: ContainerDef, range: FeedRange, p: Position): string =>
  Buffer.from(
    JSON.stringify({ c: def.name, r: range.id, t: p.t, l: p.l } satisfies FeedToken),
  ).toString('base64url');

export async function readChanges(
  db: Queryable,
  def: ContainerDef,
  ranges: number,
  range: FeedRange,
  continuation: string | null,
  maxItems: number,
): Promise<ChangePage> {
  const idx = rangeIndex(range, ranges);
  if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 10_000) {
    throw new ProjectionError('bad_request', 'maxItems must be an integer between 1 and 10000');
  }
  const from = continuation ? decode(continuation, def, range) : { t: '0', l: 0 };
  const { rows } = await db.query<DocRow & { txid: string; lsn: number | string }>(
    `SELECT body, etag, ts, txid::text AS txid, lsn FROM ${q(tableName(def))}
      WHERE feed_range = $1 AND (txid, lsn) > ($2::xid8, $3::bigint)
        AND txid < pg_snapshot_xmin(pg_current_snapshot()) AND ${LIVE}
      ORDER BY txid, lsn LIMIT $4`,
    [idx, from.t, from.l, maxItems],
  );
  const last = rows[rows.length - 1];
  const pos = last ? { t: last.txid, l: Number(last.lsn) } : from;
  return {
    items: rows.map((r) => toStored(r)),
    continuation: encode(def, range, pos),
    requestCharge: charge.changes(rows.length),
  };
}
