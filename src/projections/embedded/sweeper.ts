import { every, type Periodic } from '../../lib/periodic.ts';
import type { Db } from '../../sql/db.ts';
import type { ContainerDef } from '../port.ts';
import { q, tableName } from './schema.ts';

/**
 * Deletes expired items in batches. Reads already hide them (expiry is checked on every
 * read), so this only reclaims space. The expiry condition is repeated on the target row
 * so a row re-written (clock reset) between the scan and the delete survives.
 */
export async function sweepExpired(db: Db, defs: ContainerDef[], batch = 500): Promise<number> {
  let total = 0;
  for (const def of defs) {
    if (def.defaultTtl === undefined) continue;
    const t = q(tableName(def));
    for (;;) {
      const r = await db.query(
        `DELETE FROM ${t} WHERE (pk, id) IN (
           SELECT pk, id FROM ${t} WHERE expires_at <= statement_timestamp() LIMIT ${batch})
           AND expires_at <= statement_timestamp()`,
      );
      total += r.rowCount;
      if (r.rowCount < batch) break;
    }
  }
  return total;
}

export type Sweeper = Periodic;

/** Runs sweepExpired every intervalMs (timer unref'd); errors are passed to onError and retried next tick. */
export function startSweeper(
  db: Db,
  defs: ContainerDef[],
  intervalMs: number,
  onError: (err: unknown) => void = () => {},
): Sweeper {
  return every(intervalMs, () => sweepExpired(db, defs), onError);
}
