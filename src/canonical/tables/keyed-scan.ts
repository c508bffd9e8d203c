import type { Queryable } from '../../sql/db.ts';

/**
 * A table read whole in keyset pages by its uuid key (the reconcilers' scans): `select` is
 * a `SELECT ... FROM <table> p ...` with the table aliased `p`; the names are the table
 * modules' constants, never input.
 */
export interface KeyedScan<R> {
  table: string;
  key: string;
  select: string;
  keyOf: (row: R) => string;
}

/** Below every uuid: where a scan starts. */
export const FIRST_KEY = '00000000-0000-0000-0000-000000000000';

/** The next `limit` rows with a key above `after`, in key order. */
export async function rowsAfter<R>(
  tx: Queryable,
  s: KeyedScan<R>,
  after: string,
  limit: number,
): Promise<R[]> {
  const { rows } = await tx.query<R>(
    `${s.select} WHERE p.${s.key} > $1 ORDER BY p.${s.key} LIMIT $2`,
    [after, limit],
  );
  return rows;
}

export async function rowByKey<R>(
  tx: Queryable,
  s: KeyedScan<R>,
  key: string,
): Promise<R | undefined> {
  const { rows } = await tx.query<R>(`${s.select} WHERE p.${s.key} = $1`, [key]);
  return rows[0];
}

export async function countRows<R>(tx: Queryable, s: KeyedScan<R>): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s.table}`);
  return rows[0]!.n;
}

/** Which of these keys the table holds. */
export async function knownKeys<R>(
  tx: Queryable,
  s: KeyedScan<R>,
  keys: string[],
): Promise<Set<string>> {
  const { rows } = await tx.query<{ id: string }>(
    `SELECT ${s.key}::text AS id FROM ${s.table} WHERE ${s.key} = ANY($1::uuid[])`,
    [keys],
  );
  return new Set(rows.map((r) => r.id));
}
