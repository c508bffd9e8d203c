import { overlapsRange } from '../projections/feed-range.ts';
import {
  type FeedRange,
  isProjectionError,
  type ProjectionContainer,
  type Stored,
} from '../projections/port.ts';
import { type LeaseDoc, newLease, rangeOfLease } from './lease.ts';

export interface RangeLease {
  range: FeedRange;
  lease: Stored<LeaseDoc>;
}

/** Where a new processor starts: the whole history, only what is written from now, or from a time. */
export type StartFrom = 'beginning' | 'now' | Date;

/** Every lease document of one processor on one container (a cross-partition query, paged). */
export async function listLeases(
  leases: ProjectionContainer,
  processorName: string,
  container: string,
): Promise<Stored<LeaseDoc>[]> {
  const out: Stored<LeaseDoc>[] = [];
  let continuation: string | null = null;
  do {
    const page: { items: Stored<LeaseDoc>[]; continuation: string | null } =
      await leases.query<LeaseDoc>({
        filters: [
          { field: 'processorName', op: '=', value: processorName },
          { field: 'container', op: '=', value: container },
        ],
        limit: 1000,
        continuation,
      });
    out.push(...page.items);
    continuation = page.continuation;
  } while (continuation);
  return out;
}

/**
 * The processor's leases, one per range it reads, and a new lease for every current feed
 * range that no lease covers yet. A range split or merged under existing leases is covered
 * by them: the lease of a split range hands over to its children when its reads say
 * 'gone' (split.ts), and leases inside a merged range keep reading their part of it. So a
 * re-shaped container never makes a lease start again from the beginning.
 * `create` makes two hosts starting together agree on one document per range.
 */
export async function ensureLeases(
  leases: ProjectionContainer,
  monitored: ProjectionContainer,
  processorName: string,
  /** Where a new lease starts; `isNew`: the processor has no lease at all yet. */
  startFrom: (
    isNew: boolean,
    range: FeedRange,
  ) => Promise<{ continuation: string | null; startTime?: string }>,
): Promise<RangeLease[]> {
  const container = monitored.def.name;
  const ranges = await monitored.feedRanges();
  const existing = await listLeases(leases, processorName, container);
  const out: RangeLease[] = [];
  for (const lease of existing) {
    // A lease from before ranges had bounds: its range is the current one of that id, if any.
    const current = ranges.find((r) => r.id === lease.rangeId);
    out.push({ lease, range: lease.min === undefined && current ? current : rangeOfLease(lease) });
  }
  const uncovered = ranges.filter((r) => !out.some((x) => overlapsRange(x.range, r)));
  if (uncovered.length === 0) return out;
  for (const range of uncovered) {
    const fresh = newLease(
      processorName,
      container,
      range,
      await startFrom(existing.length === 0, range),
    );
    let lease: Stored<LeaseDoc> | undefined;
    try {
      lease = (await leases.create(fresh)).resource;
    } catch (err) {
      if (!isProjectionError(err, 'conflict')) throw err;
      // Another host created it first: use theirs.
      lease = (await leases.read<LeaseDoc>(fresh.id, fresh.id)).resource;
    }
    if (lease) out.push({ range, lease });
  }
  return out;
}
