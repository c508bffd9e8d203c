import type { Db } from '../sql/db.ts';
import { PENDING } from './claim.ts';
import { inOutboxTx } from './tx.ts';

/**
 * Holding events back from the relay while another writer applies their effects in bulk
 * (the seed builds projections straight from canonical): the events stay in the outbox
 * as the record of what happened, but no relay claims them during the hold, and the bulk
 * writer marks them delivered once its writes are done. If it dies first, the hold runs
 * out and the relay applies them one by one: slower, nothing lost. The hold is set when
 * the events are written (emitBatch's `holdSeconds`: emit_events makes them due later).
 */

/**
 * Marks held events delivered, except any a relay has claimed meanwhile (the hold ran
 * out): that relay applies and acknowledges it, harmlessly, since every handler is
 * version-guarded. Returns how many were marked.
 */
export async function markDelivered(db: Db, ids: number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { rows } = await inOutboxTx(db, (tx) =>
    tx.query<{ n: number }>(
      `WITH done AS (
         UPDATE outbox SET processed_at = now(), next_retry_at = now()
          WHERE id = ANY($1::bigint[]) AND ${PENDING} AND claimed_by IS NULL
         RETURNING 1)
       SELECT count(*)::int AS n FROM done`,
      [ids],
    ),
  );
  return rows[0]!.n;
}
