import { createHash } from 'node:crypto';
import type { Queryable } from '../sql/db.ts';

/**
 * Writes one outbox event inside the caller's canonical transaction (emit_event: granted to
 * the worker role, and called by the definer functions that check an event first). The
 * database function assigns the next per-aggregate version under a row lock and notifies
 * listening relays on commit.
 */
export async function emit(
  tx: Queryable,
  aggregate: { type: string; id: string },
  eventType: string,
  payload: unknown,
): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(
    'SELECT emit_event($1, $2::uuid, $3, $4::jsonb) AS id',
    [aggregate.type, aggregate.id, eventType, JSON.stringify(payload)],
  );
  return rows[0]!.id;
}

/** A stable UUID for a composite key (e.g. a follow is the aggregate of its two users). */
export function pairAggregateId(kind: string, ...parts: string[]): string {
  const h = createHash('sha256')
    .update(`${kind}:${parts.join(':')}`)
    .digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Emits one event per row for aggregates of one type, in one statement inside the
 * caller's transaction (emit_events, 0012: set-based, with emit_event's versions and
 * order; one notification per call). `holdSeconds` > 0 makes the events due only after
 * that long (see hold.ts). Returns each row's event id and aggregate version, in input order.
 */
export async function emitBatch(
  tx: Queryable,
  aggregateType: string,
  eventType: string,
  rows: { id: string; payload: unknown }[],
  opts: { holdSeconds?: number } = {},
): Promise<{ id: number; version: number }[]> {
  if (rows.length === 0) return [];
  const { rows: emitted } = await tx.query<{ id: number | string; v: number | string }>(
    'SELECT event_id AS id, event_version AS v FROM emit_events($1, $2::uuid[], $3, $4::jsonb[], $5)',
    [
      aggregateType,
      rows.map((r) => r.id),
      eventType,
      rows.map((r) => JSON.stringify(r.payload)),
      opts.holdSeconds ?? 0,
    ],
  );
  return emitted.map((r) => ({ id: Number(r.id), version: Number(r.v) }));
}
