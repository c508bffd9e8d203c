import { ValidationError } from '../errors.ts';
import type { Db, Queryable } from '../sql/db.ts';
import { PENDING } from './claim.ts';
import { inOutboxTx } from './tx.ts';

export interface EventTypeStatus {
  pending: number;
  failed: number;
  deadLettered: number;
}

export interface OutboxStatus {
  pending: number;
  /** Pending events that have failed at least once (retry_count > 0). */
  failed: number;
  deadLettered: number;
  oldestPendingAgeSeconds: number;
  byEventType: Record<string, EventTypeStatus>;
}

/** The seed's "outbox backlog" runbook query, as numbers. Served by the partial indexes. */
export async function outboxStatus(db: Db): Promise<OutboxStatus> {
  return inOutboxTx(db, async (tx) => {
    const counts = await outboxCounts(tx);
    const { rows } = await tx.query<{
      event_type: string;
      pending: number;
      failed: number;
      dead: number;
    }>(
      `SELECT event_type,
              count(*) FILTER (WHERE dead_lettered_at IS NULL)::int AS pending,
              count(*) FILTER (WHERE dead_lettered_at IS NULL AND retry_count > 0)::int AS failed,
              count(*) FILTER (WHERE dead_lettered_at IS NOT NULL)::int AS dead
         FROM outbox
        WHERE processed_at IS NULL
        GROUP BY event_type
        ORDER BY event_type`,
    );
    const byEventType: Record<string, EventTypeStatus> = {};
    for (const r of rows)
      byEventType[r.event_type] = { pending: r.pending, failed: r.failed, deadLettered: r.dead };
    return { ...counts, byEventType };
  });
}

export interface RedriveSelection {
  /** Every dead-lettered event. */
  deadLettered?: boolean;
  /** Every pending event that has failed at least once (waiting for its next retry). */
  failed?: boolean;
  /** These events, if dead-lettered or failed (processed events are never touched). */
  ids?: number[];
}

/**
 * The seed's "reset failed events" runbook: selected events become due now with a fresh
 * retry budget. last_error is kept (it says why the event stopped) until the next attempt
 * succeeds or fails. Returns how many events were reset.
 */
export async function redrive(db: Db, sel: RedriveSelection): Promise<number> {
  const ids = sel.ids ?? [];
  if (!sel.deadLettered && !sel.failed && ids.length === 0) {
    throw new ValidationError('redrive needs a selection: deadLettered, failed, or ids');
  }
  if (!ids.every((id) => Number.isSafeInteger(id) && id > 0)) {
    throw new ValidationError('redrive ids must be positive integers');
  }
  const { rowCount } = await inOutboxTx(db, (tx) =>
    tx.query(
      `UPDATE outbox
          SET retry_count = 0, next_retry_at = now(), dead_lettered_at = NULL,
              claimed_by = NULL, lease_until = NULL
        WHERE processed_at IS NULL AND (dead_lettered_at IS NOT NULL OR retry_count > 0)
          AND (   ($1 AND dead_lettered_at IS NOT NULL)
               OR ($2 AND dead_lettered_at IS NULL AND retry_count > 0)
               OR id = ANY($3::bigint[]))`,
      [sel.deadLettered === true, sel.failed === true, ids],
    ),
  );
  return rowCount;
}

/**
 * Replay: marks processed events pending again so the relay applies them once more
 * (handlers are idempotent and version-guarded, so projections end the same). `since`
 * limits it to events created at or after that time. Returns how many were reset.
 */
export async function replayOutbox(db: Db, opts: { since?: Date } = {}): Promise<number> {
  const { rowCount } = await inOutboxTx(db, (tx) =>
    tx.query(
      `UPDATE outbox
          SET processed_at = NULL, retry_count = 0, next_retry_at = now(), dead_lettered_at = NULL,
              claimed_by = NULL, lease_until = NULL, last_error = NULL
        WHERE NOT (${PENDING}) AND ($1::timestamptz IS NULL OR created_at >= $1)`,
      [opts.since ?? null],
    ),
  );
  return rowCount;
}

export interface OutboxCounts {
  pending: number;
  failed: number;
  deadLettered: number;
  /** Seconds since the oldest pending event was created; 0 when none is pending. */
  oldestPendingAgeSeconds: number;
}

/**
 * Outbox gauges from canonical, each served by a partial index (outbox_pending_due_idx,
 * outbox_dead_lettered_idx), so a scrape stays cheap however many processed rows exist.
 */
export async function outboxCounts(db: Pick<Queryable, 'query'>): Promise<OutboxCounts> {
  const { rows } = await db.query<{
    pending: number;
    failed: number;
    dead: number;
    age: number | null;
  }>(
    `SELECT p.pending, p.failed, d.dead, p.age
       FROM (SELECT count(*)::int AS pending,
                    count(*) FILTER (WHERE retry_count > 0)::int AS failed,
                    extract(epoch FROM now() - min(created_at))::float8 AS age
               FROM outbox WHERE processed_at IS NULL AND dead_lettered_at IS NULL) p,
            (SELECT count(*)::int AS dead FROM outbox WHERE dead_lettered_at IS NOT NULL) d`,
  );
  const r = rows[0]!;
  return {
    pending: r.pending,
    failed: r.failed,
    deadLettered: r.dead,
    oldestPendingAgeSeconds: Math.max(0, r.age ?? 0),
  };
}

/** Outbox rows that are due now or being applied by some relay (a drain waits for none). */
export async function busyCount(db: Db): Promise<number> {
  return inOutboxTx(db, async (tx) => {
    const { rows } = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox
        WHERE ${PENDING} AND (next_retry_at <= now() OR lease_until > now())`,
    );
    return rows[0]!.n;
  });
}

/** Due events no relay holds, and how long the oldest has waited (relay liveness). */
export async function dueUnclaimed(
  db: Pick<Queryable, 'query'>,
): Promise<{ n: number; oldestSeconds: number }> {
  const { rows } = await db.query<{ n: number; age: number | null }>(
    `SELECT count(*)::int AS n, extract(epoch FROM now() - min(next_retry_at))::float8 AS age
       FROM outbox
      WHERE processed_at IS NULL AND dead_lettered_at IS NULL AND next_retry_at <= now()
        AND (lease_until IS NULL OR lease_until < now())`,
  );
  return { n: rows[0]!.n, oldestSeconds: Math.max(0, rows[0]!.age ?? 0) };
}

export interface TroubledEvent {
  id: number;
  eventType: string;
  aggregateType: string;
  aggregateId: string;
  retryCount: number;
  maxRetries: number;
  lastError: string | null;
  createdAt: string;
  nextRetryAt: string;
  /** Set when the event gave up after max_retries; null while it is still retrying. */
  deadLetteredAt: string | null;
}

/**
 * Dead-lettered and failing (retrying) events, dead-lettered first, newest first: what the
 * ops console lists beside the counts. Served by the partial indexes on pending rows.
 */
export async function troubledEvents(db: Db, limit = 100): Promise<TroubledEvent[]> {
  return inOutboxTx(db, async (tx) => {
    const { rows } = await tx.query<TroubledEvent>(
      `SELECT id::float8 AS "id", event_type AS "eventType", aggregate_type AS "aggregateType",
              aggregate_id::text AS "aggregateId", retry_count AS "retryCount",
              max_retries AS "maxRetries", last_error AS "lastError",
              to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
              to_char(next_retry_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "nextRetryAt",
              to_char(dead_lettered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "deadLetteredAt"
         FROM outbox
        WHERE processed_at IS NULL AND (dead_lettered_at IS NOT NULL OR retry_count > 0)
        ORDER BY dead_lettered_at DESC NULLS LAST, id DESC
        LIMIT $1`,
      [limit],
    );
    return rows;
  });
}
