import type { Db, Queryable } from '../../sql/db.ts';
import { EPK_MAX, EPK_MIN, isFeedRange } from '../feed-range.ts';
import { type FeedRange, ProjectionError } from '../port.ts';

/**
 * The embedded store's feed ranges, modelled on Cosmos DB's physical partitions: each
 * container's effective-partition-key space (the first 31 bits of md5(pk), the `epk`
 * column) is cut into adjacent intervals, stored in `proj_feed_ranges` so every process
 * sees the same layout. A split cuts one interval in two, a merge joins two neighbours,
 * and a restart of the processors with another FEED_RANGES re-cuts the space evenly. Feed
 * positions are global (txid, lsn), so a continuation of any range stays valid for every
 * part of it: exactly what lets the change-feed processor hand a parent's continuation to
 * its children.
 */

export const LAYOUT_TABLE = 'proj_feed_ranges';
/** Size of the key space: epk is in [0, SPACE). */
export const SPACE = 2 ** 31;
/** The SQL for a row's effective partition key (a generated column of every table). */
export const EPK_SQL = `((('x' || substr(md5(pk), 1, 8))::bit(32)::bigint) >> 1)`;

export const LAYOUT_DDL = `CREATE TABLE IF NOT EXISTS ${LAYOUT_TABLE} (
  container text NOT NULL, min bigint NOT NULL, max bigint NOT NULL, PRIMARY KEY (container, min))`;

const hex = (v: number): string =>
  v <= 0 ? EPK_MIN : v >= SPACE ? EPK_MAX : v.toString(16).toUpperCase().padStart(8, '0');

function value(bound: string): number {
  if (bound === EPK_MIN) return 0;
  if (bound === EPK_MAX) return SPACE;
  const v = /^[0-9A-F]{8}$/.test(bound) ? Number.parseInt(bound, 16) : Number.NaN;
  if (!(v > 0 && v < SPACE))
    throw new ProjectionError('bad_request', `bad feed-range bound ${JSON.stringify(bound)}`);
  return v;
}

const boundary = (i: number, n: number): number => Math.floor((i * SPACE) / n);

/** `i-of-n` for the i-th of n equal ranges (the names FEED_RANGES gives), else `min-max` in hex. */
function nameOf(lo: number, hi: number): string {
  const n = Math.round(SPACE / (hi - lo));
  const i = Math.round((lo * n) / SPACE);
  if (n >= 1 && boundary(i, n) === lo && boundary(i + 1, n) === hi) return `${i}-of-${n}`;
  return `${hex(lo) || '00'}-${hex(hi)}`;
}

export const rangeOf = (lo: number, hi: number): FeedRange => ({
  id: nameOf(lo, hi),
  min: hex(lo),
  max: hex(hi),
});

/** n equal ranges: what FEED_RANGES=n means. */
export const equalLayout = (n: number): FeedRange[] =>
  Array.from({ length: n }, (_, i) => rangeOf(boundary(i, n), boundary(i + 1, n)));

/** The numeric bounds of a range; a range given by id only (`i-of-n`, from old leases) is resolved. */
export function boundsOf(range: FeedRange | { id: string }): [number, number] {
  const r = range as Partial<FeedRange> | null;
  if (isFeedRange(r)) return [value(r.min), value(r.max)];
  const m = /^(\d+)-of-(\d+)$/.exec(typeof r?.id === 'string' ? r.id : '');
  if (m && Number(m[1]) < Number(m[2])) {
    const [i, n] = [Number(m[1]), Number(m[2])];
    return [boundary(i, n), boundary(i + 1, n)];
  }
  throw new ProjectionError('bad_request', `unknown feed range ${JSON.stringify(r?.id)}`);
}

/** The current ranges of one container, in key order. */
export async function loadLayout(db: Queryable, container: string): Promise<FeedRange[]> {
  // Aliased: an output column named min would sort as text.
  const { rows } = await db.query<{ lo: string; hi: string }>(
    `SELECT min::text AS lo, max::text AS hi FROM ${LAYOUT_TABLE} WHERE container = $1 ORDER BY min`,
    [container],
  );
  return rows.map((r) => rangeOf(Number(r.lo), Number(r.hi)));
}

async function replace(
  tx: Queryable,
  container: string,
  ranges: [number, number][],
): Promise<void> {
  await tx.query(`DELETE FROM ${LAYOUT_TABLE} WHERE container = $1`, [container]);
  for (const [lo, hi] of ranges) {
    await tx.query(`INSERT INTO ${LAYOUT_TABLE} (container, min, max) VALUES ($1, $2, $3)`, [
      container,
      lo,
      hi,
    ]);
  }
}

// One layout change at a time across processes.
const LAYOUT_LOCK = 0x4665_6564;

async function locked<T>(
  db: Db,
  container: string,
  fn: (tx: Queryable, cur: FeedRange[]) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${LAYOUT_LOCK})`);
    return fn(tx, await loadLayout(tx, container));
  });
}

/**
 * A container without a layout gets n equal ranges. With `recut` (a start of the processes
 * that read the feeds), one whose number of ranges differs from n is re-cut into n equal
 * ranges (a restart with another FEED_RANGES); a layout with n ranges is kept, so a live
 * split survives restarts once FEED_RANGES says n. Without it any layout is kept: a runbook
 * opening the store must not undo a live split.
 */
export async function ensureLayout(
  db: Db,
  containers: string[],
  n: number,
  recut: boolean,
): Promise<void> {
  for (const c of containers) {
    await locked(db, c, async (tx, cur) => {
      if (cur.length === 0 || (recut && cur.length !== n))
        await replace(
          tx,
          c,
          Array.from({ length: n }, (_, i) => [boundary(i, n), boundary(i + 1, n)]),
        );
    });
  }
}

function find(cur: FeedRange[], container: string, id: string): FeedRange {
  const r = cur.find((x) => x.id === id);
  if (!r) {
    throw new ProjectionError(
      'bad_request',
      `${container} has no feed range ${JSON.stringify(id)} (ranges: ${cur.map((x) => x.id).join(', ')})`,
    );
  }
  return r;
}

/** Splits a range at its middle, live; returns the two children. */
export function splitRange(db: Db, container: string, id: string): Promise<FeedRange[]> {
  return locked(db, container, async (tx, cur) => {
    const [lo, hi] = boundsOf(find(cur, container, id));
    if (hi - lo < 2)
      throw new ProjectionError('bad_request', `feed range ${id} is too small to split`);
    const n = Math.round(SPACE / (hi - lo));
    const i = Math.round((lo * n) / SPACE);
    // An `i-of-n` range splits at the boundary that names its halves `2i-of-2n` and `2i+1-of-2n`.
    const mid =
      nameOf(lo, hi) === `${i}-of-${n}` ? boundary(2 * i + 1, 2 * n) : Math.floor((lo + hi) / 2);
    const next = cur.map((r) => boundsOf(r)).filter(([l]) => l !== lo);
    await replace(tx, container, [...next, [lo, mid], [mid, hi]]);
    return [rangeOf(lo, mid), rangeOf(mid, hi)];
  });
}

/** Merges two adjacent ranges, live; returns the merged range. */
export function mergeRanges(db: Db, container: string, a: string, b: string): Promise<FeedRange> {
  return locked(db, container, async (tx, cur) => {
    const [r1, r2] = [boundsOf(find(cur, container, a)), boundsOf(find(cur, container, b))].sort(
      (x, y) => x[0] - y[0],
    ) as [[number, number], [number, number]];
    if (r1[1] !== r2[0])
      throw new ProjectionError('bad_request', `feed ranges ${a} and ${b} are not adjacent`);
    const next = cur.map((r) => boundsOf(r)).filter(([l]) => l !== r1[0] && l !== r2[0]);
    await replace(tx, container, [...next, [r1[0], r2[1]]]);
    return rangeOf(r1[0], r2[1]);
  });
}
