import type { Doc, FeedRange, Stored } from '../projections/port.ts';

/**
 * One lease per (processor, monitored container, feed range), as the .NET processor
 * keeps them: who owns the range, where it has got to, and until when the claim holds.
 */
export interface LeaseDoc extends Doc {
  id: string;
  processorName: string;
  container: string;
  rangeId: string;
  /** Bounds of the range the lease covers (a child of a split, or a part of a merged range). */
  min?: string;
  max?: string;
  /** With no continuation yet: start from this time (ISO 8601) instead of the beginning. */
  startTime?: string;
  /** Host that owns the range; null = free (released or never taken). */
  owner: string | null;
  /** Change-feed continuation after the last checkpointed batch; null = from the beginning. */
  continuation: string | null;
  /** When the owner last acquired, renewed or checkpointed (ISO 8601). */
  timestamp: string;
  /** The claim lapses at this time unless renewed (ISO 8601; written by the owner). */
  expiresAt: string;
}

export const leaseId = (processorName: string, container: string, rangeId: string) =>
  `${processorName}:${container}:${rangeId}`;

/** Free for anyone: released, never owned, or not renewed in time. */
export const isAvailable = (lease: LeaseDoc, now: number): boolean =>
  lease.owner === null || Date.parse(lease.expiresAt) <= now;

/** The document without the store's system properties (_etag, _ts, ...), ready to write back. */
export function leaseBody(lease: Stored<LeaseDoc> | LeaseDoc): LeaseDoc {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(lease)) if (!k.startsWith('_')) body[k] = v;
  return body as LeaseDoc;
}

/** The feed range a lease reads: its own bounds (leases written before bounds carry the id only). */
export const rangeOfLease = (lease: LeaseDoc): FeedRange =>
  ({ id: lease.rangeId, min: lease.min, max: lease.max }) as FeedRange;

export const NEVER = new Date(0).toISOString();

/** A free lease for a range, starting where `from` says. */
export function newLease(
  processorName: string,
  container: string,
  range: FeedRange,
  from: { continuation: string | null; startTime?: string },
): LeaseDoc {
  const id = leaseId(processorName, container, range.id);
  return {
    id,
    processorName,
    container,
    rangeId: range.id,
    min: range.min,
    max: range.max,
    owner: null,
    continuation: from.continuation,
    ...(from.startTime ? { startTime: from.startTime } : {}),
    timestamp: NEVER,
    expiresAt: NEVER,
  };
}
