import type { Queryable } from '../sql/db.ts';

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
