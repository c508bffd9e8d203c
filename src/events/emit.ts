import { emitBatch } from '../outbox/emit.ts';
import type { Queryable } from '../sql/db.ts';
import type { AggregateType, EventPayloads, EventType } from './catalogue.ts';

/**
 * Emits a catalogue event inside the caller's canonical transaction, typed by its name.
 * Through emit_checked_event (0010): the database refuses an event that does not match the
 * rows this transaction wrote (SQLSTATE 42501), so an application session cannot forge one.
 */
export async function emit<E extends EventType>(
  tx: Queryable,
  aggregate: { type: AggregateType; id: string },
  eventType: E,
  payload: EventPayloads[E],
): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(
    'SELECT emit_checked_event($1, $2::uuid, $3, $4::jsonb) AS id',
    [aggregate.type, aggregate.id, eventType, JSON.stringify(payload)],
  );
  return rows[0]!.id;
}

export { pairAggregateId } from '../outbox/emit.ts';

/**
 * Emits one catalogue event per row (aggregates of one type) inside the caller's
 * transaction, in one statement: bulk writers (the seed) emit through here, optionally
 * held back from the relay (outbox/hold.ts).
 */
export const emitMany = <E extends EventType>(
  tx: Queryable,
  aggregateType: AggregateType,
  eventType: E,
  rows: { id: string; payload: EventPayloads[E] }[],
  opts: { holdSeconds?: number } = {},
): Promise<{ id: number; version: number }[]> =>
  emitBatch(tx, aggregateType, eventType, rows, opts);
