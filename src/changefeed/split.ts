import { intersectRange, overlapsRange } from '../projections/feed-range.ts';
import { isProjectionError, type ProjectionContainer, type Stored } from '../projections/port.ts';
import { type LeaseDoc, newLease, rangeOfLease } from './lease.ts';

/**
 * A lease whose range was split (reads say 'gone') becomes one lease per child range, each
 * starting at the parent's continuation, and the parent lease is deleted: what the .NET
 * processor does on a split. The children are free leases that any host (this one
 * included) acquires at its next balancing round; nothing is read twice and nothing from
 * before the parent's checkpoint is read again. Run by the parent's owner only, after its
 * last checkpoint. Safe to repeat after a crash: existing children are kept as they are
 * (they may be ahead), and a parent changed meanwhile (stolen) is left to its new owner,
 * who will find the children already there.
 */
export async function splitLease(
  leases: ProjectionContainer,
  monitored: ProjectionContainer,
  parent: Stored<LeaseDoc>,
): Promise<LeaseDoc[]> {
  const range = rangeOfLease(parent);
  const current = await monitored.feedRanges();
  const children = current
    .filter((r) => overlapsRange(r, range))
    .map((r) => intersectRange(range, r, `${r.min || '00'}-${r.max}`));
  if (children.length < 2) return []; // not split after all (a stale view): keep reading
  const made: LeaseDoc[] = [];
  for (const child of children) {
    const doc = newLease(parent.processorName, parent.container, child, {
      continuation: parent.continuation,
      startTime: parent.startTime,
    });
    try {
      await leases.create(doc);
      made.push(doc);
    } catch (err) {
      if (!isProjectionError(err, 'conflict')) throw err;
    }
  }
  try {
    await leases.delete(parent.id, parent.id, { ifMatch: parent._etag });
  } catch (err) {
    if (!isProjectionError(err, 'precondition_failed')) throw err;
  }
  return made;
}
