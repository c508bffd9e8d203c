import type { Db } from '../sql/db.ts';
import type { OutboxEvent } from './event.ts';
import { inOutboxTx } from './tx.ts';

interface OutboxRow {
  id: number;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: number;
  event_type: string;
  payload: unknown;
  created_at: Date;
  retry_count: number;
}

/** Only rows no one has finished with: the partial indexes in 0001 hold exactly these. */
export const PENDING = 'processed_at IS NULL AND dead_lettered_at IS NULL';

/**
 * Claims up to `limit` due events, at most one per aggregate and only the oldest pending
 * one of its aggregate (so per-aggregate order holds and one event per key is in
 * flight). A row leased by another relay is skipped, and so is its whole aggregate,
 * because the older pending row keeps the NOT EXISTS probe true. SKIP LOCKED lets
 * concurrent relays take disjoint rows; a lease re-checked after the row lock (READ
 * COMMITTED re-evaluates the row's own conditions) stops two relays taking one row.
 * Dead-lettered rows are not pending, so they do not block the events behind them.
 */
export const CLAIM_SQL = `
WITH candidates AS (
  SELECT o.id FROM outbox o
   WHERE o.processed_at IS NULL AND o.dead_lettered_at IS NULL
     AND o.next_retry_at <= now()
     AND (o.lease_until IS NULL OR o.lease_until < now())
     AND NOT EXISTS (
       SELECT 1 FROM outbox p
        WHERE p.aggregate_type = o.aggregate_type AND p.aggregate_id = o.aggregate_id
          AND p.id < o.id AND p.processed_at IS NULL AND p.dead_lettered_at IS NULL)
   ORDER BY o.next_retry_at, o.id
   LIMIT $1
   FOR UPDATE OF o SKIP LOCKED
)
UPDATE outbox SET claimed_by = $2, lease_until = now() + make_interval(secs => $3)
  FROM candidates
 WHERE outbox.id = candidates.id
RETURNING outbox.id, outbox.aggregate_type, outbox.aggregate_id::text, outbox.aggregate_version,
          outbox.event_type, outbox.payload, outbox.created_at, outbox.retry_count`;

function toEvent(r: OutboxRow): OutboxEvent {
  return {
    id: r.id,
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    aggregateVersion: r.aggregate_version,
    eventType: r.event_type,
    payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
    retryCount: r.retry_count,
  };
}

/** One short transaction: lease a batch to `workerId`, oldest due first. */
export async function claimBatch(
  db: Db,
  workerId: string,
  limit: number,
  leaseSeconds: number,
): Promise<OutboxEvent[]> {
  const rows = await inOutboxTx(
    db,
    async (tx) => (await tx.query<OutboxRow>(CLAIM_SQL, [limit, workerId, leaseSeconds])).rows,
  );
  return rows.map(toEvent).sort((a, b) => a.id - b.id);
}

/**
 * Marks a handled batch done in one statement, only the rows this relay still holds: if
 * a lease ran out and another relay took a row, that relay acknowledges it instead.
 * Returns the creation-to-processing lag in seconds of each row acknowledged, by id
 * (a row missing from the map was no longer ours).
 */
export async function ackEvents(
  db: Db,
  workerId: string,
  ids: number[],
): Promise<Map<number, number>> {
  if (ids.length === 0) return new Map();
  const { rows } = await inOutboxTx(db, (tx) =>
    tx.query<{ id: number | string; lag: number }>(
      `UPDATE outbox SET processed_at = now(), lease_until = NULL, last_error = NULL
        WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND ${PENDING}
       RETURNING id, extract(epoch FROM processed_at - created_at)::float8 AS lag`,
      [ids, workerId],
    ),
  );
  return new Map(rows.map((r) => [Number(r.id), r.lag]));
}

/** Marks one event done (see ackEvents); the lag in seconds, or null when no longer ours. */
export async function ackEvent(db: Db, workerId: string, id: number): Promise<number | null> {
  return (await ackEvents(db, workerId, [id])).get(id) ?? null;
}

export type FailOutcome = 'retry' | 'dead_letter' | 'lost';

/**
 * Records a failed attempt: the next try waits `delaySeconds`; the attempt that brings
 * retry_count to max_retries dead-letters the row instead. `lost` = no longer ours.
 */
export async function failEvent(
  db: Db,
  workerId: string,
  id: number,
  error: string,
  delaySeconds: number,
): Promise<FailOutcome> {
  const { rows } = await inOutboxTx(db, (tx) =>
    tx.query<{ dead: boolean }>(
      `UPDATE outbox
          SET retry_count = retry_count + 1,
              next_retry_at = now() + make_interval(secs => $3),
              last_error = $4,
              lease_until = NULL,
              dead_lettered_at = CASE WHEN retry_count + 1 >= max_retries THEN now() END
        WHERE id = $1 AND claimed_by = $2 AND ${PENDING}
       RETURNING dead_lettered_at IS NOT NULL AS dead`,
      [id, workerId, delaySeconds, error.slice(0, 4000)],
    ),
  );
  const row = rows[0];
  if (!row) return 'lost';
  return row.dead ? 'dead_letter' : 'retry';
}
