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
