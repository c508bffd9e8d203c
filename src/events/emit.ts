import { emitBatch, emit as emitRow } from '../outbox/emit.ts';
import type { Queryable } from '../sql/db.ts';
import type { AggregateType, EventPayloads, EventType } from './catalogue.ts';

/** Emits a catalogue event inside the caller's canonical transaction, typed by its name. */
export const emit = <E extends EventType>(
  tx: Queryable,
  aggregate: { type: AggregateType; id: string },
  eventType: E,
  payload: EventPayloads[E],
): Promise<number> => emitRow(tx, aggregate, eventType, payload);

export { pairAggregateId } from '../outbox/emit.ts';

/**
 * Emits one catalogue event per row (aggregates of one type) inside the caller's
 * transaction, in one statement: bulk writers (the seed) emit through here.
 */
export const emitMany = <E extends EventType>(
  tx: Queryable,
  aggregateType: AggregateType,
  eventType: E,
  rows: { id: string; payload: EventPayloads[E] }[],
): Promise<{ id: number; version: number }[]> => emitBatch(tx, aggregateType, eventType, rows);
