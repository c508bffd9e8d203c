import {
  type FeedRange,
  isProjectionError,
  type ProjectionContainer,
  type Stored,
} from '../projections/port.ts';
import { type LeaseDoc, leaseId } from './lease.ts';

export interface RangeLease {
  range: FeedRange;
  lease: Stored<LeaseDoc>;
}

/**
 * The lease of every current feed range of `monitored`, created (free, from the beginning)
 * when missing. `create` makes two hosts starting together agree on one document per range.
 */
export async function ensureLeases(
  leases: ProjectionContainer,
  monitored: ProjectionContainer,
  processorName: string,
): Promise<RangeLease[]> {
  const container = monitored.def.name;
  const ranges = await monitored.feedRanges();
  const idOf = (r: FeedRange) => leaseId(processorName, container, r.id);
  const keys = ranges.map((r) => ({ id: idOf(r), partitionKey: idOf(r) }));
  const found = new Map((await leases.readMany<LeaseDoc>(keys)).items.map((l) => [l.id, l]));
  const out: RangeLease[] = [];
  for (const range of ranges) {
    const id = idOf(range);
    let lease = found.get(id);
    if (!lease) {
      const never = new Date(0).toISOString();
      const fresh: LeaseDoc = {
        id,
        processorName,
        container,
        rangeId: range.id,
        owner: null,
        continuation: null,
        timestamp: never,
        expiresAt: never,
      };
      try {
        lease = (await leases.create(fresh)).resource;
      } catch (err) {
        if (!isProjectionError(err, 'conflict')) throw err;
        // Another host created it first: use theirs.
        lease = (await leases.read<LeaseDoc>(id, id)).resource;
        if (!lease) continue;
      }
    }
    out.push({ range, lease });
  }
  return out;
}
