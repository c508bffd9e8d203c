import type { Queryable } from '../../sql/db.ts';
import type { PairTable } from './pair-table.ts';

/** The blocks table: blocker → blocked (blocks_parties_read lets each side see it). */
export const BLOCKS: PairTable = { table: 'blocks', from: 'blocker_id', to: 'blocked_id' };

/** Whether either user blocks the other. */
export async function blockBetween(tx: Queryable, a: string, b: string): Promise<boolean> {
  const { rows } = await tx.query(
    'SELECT 1 FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)',
    [a, b],
  );
  return rows.length > 0;
}
