import type { Doc, Stored } from '../projections/port.ts';

/**
 * One lease per (processor, monitored container, feed range), as the .NET processor
 * keeps them: who owns the range, where it has got to, and until when the claim holds.
 */
export interface LeaseDoc extends Doc {
  id: string;
  processorName: string;
  container: string;
  rangeId: string;
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
