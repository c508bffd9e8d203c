import type { ProjectionContainer } from '../projections/port.ts';
import { type LeaseDoc, leaseBody, NEVER, newLease } from './lease.ts';
import { listLeases } from './lease-store.ts';

/**
 * Re-reads a processor's change feed from the beginning (or from `from`): every lease of
 * the processor is rewritten free, without continuation. Running hosts lose their leases at
 * their next write (etag) and take them back at the next balancing round, now at the new
 * start. A processor without leases gets one per current range. Handlers are idempotent,
 * so the replay leaves up-to-date projections unchanged. Returns the leases reset.
 */
export async function backfillProcessor(
  leases: ProjectionContainer,
  monitored: ProjectionContainer,
  processorName: string,
  from?: Date,
): Promise<string[]> {
  const start = from ? { startTime: from.toISOString() } : {};
  const existing = await listLeases(leases, processorName, monitored.def.name);
  if (existing.length === 0) {
    const made: string[] = [];
    for (const range of await monitored.feedRanges()) {
      const doc = newLease(processorName, monitored.def.name, range, {
        continuation: null,
        ...start,
      });
      await leases.upsert(doc);
      made.push(doc.id);
    }
    return made;
  }
  for (const lease of existing) {
    const { startTime: _old, ...body } = leaseBody(lease);
    const reset: LeaseDoc = {
      ...body,
      ...start,
      owner: null,
      continuation: null,
      timestamp: NEVER,
      expiresAt: NEVER,
    };
    await leases.upsert(reset);
  }
  return existing.map((l) => l.id);
}
