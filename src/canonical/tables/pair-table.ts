import type { Queryable } from '../../sql/db.ts';
import { iso, NOW_MS } from '../time.ts';

/**
 * The shared shape of follows, blocks and mutes: one row per (from, to) pair of users with
 * its creation time, unique on the pair. The names are the modules' constants, never input.
 */
export interface PairTable {
  table: string;
  from: string;
  to: string;
}

/** The other user of a pair and when the pair began (the account export's rows). */
export interface RelatedRow {
  user_id: string;
  created_at: unknown;
}

/** The new pair's creation time, or undefined when it already existed (idempotent PUT). */
export async function insertPair(
  tx: Queryable,
  t: PairTable,
  from: string,
  to: string,
): Promise<string | undefined> {
  const { rows } = await tx.query<{ created_at: unknown }>(
    `INSERT INTO ${t.table} (${t.from}, ${t.to}, created_at) VALUES ($1, $2, ${NOW_MS})
     ON CONFLICT (${t.from}, ${t.to}) DO NOTHING RETURNING created_at`,
    [from, to],
  );
  return rows[0] ? iso(rows[0].created_at) : undefined;
}

/** Whether the pair was there to remove. */
export async function deletePair(
  tx: Queryable,
  t: PairTable,
  from: string,
  to: string,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `DELETE FROM ${t.table} WHERE ${t.from} = $1 AND ${t.to} = $2 RETURNING 1`,
    [from, to],
  );
  return rowCount > 0;
}

/** The pairs on one side of a user, oldest first: `from` = the user's own (whom they follow, block, mute). */
export async function pairsOf(
  tx: Queryable,
  t: PairTable,
  userId: string,
  side: 'from' | 'to',
): Promise<RelatedRow[]> {
  const [self, other] = side === 'from' ? [t.from, t.to] : [t.to, t.from];
  const { rows } = await tx.query<RelatedRow>(
    `SELECT ${other} AS user_id, created_at FROM ${t.table} WHERE ${self} = $1 ORDER BY created_at`,
    [userId],
  );
  return rows;
}

/** Removes every pair a user made (account deletion). */
export async function deletePairsFrom(tx: Queryable, t: PairTable, userId: string): Promise<void> {
  await tx.query(`DELETE FROM ${t.table} WHERE ${t.from} = $1`, [userId]);
}
