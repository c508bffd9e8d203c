import { emit as emitRow } from '../outbox/emit.ts';
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
