/**
 * Change-feed processor tuning. Defaults are the .NET change-feed processor's
 * (renew 17 s, acquire 13 s, expire 60 s, poll 5 s); tests shorten them.
 */
export interface ProcessorOptions {
  /** How often an owner rewrites its leases' timestamps to keep them. */
  leaseRenewIntervalMs: number;
  /** How often a host looks for unowned, expired or stealable leases. */
  leaseAcquireIntervalMs: number;
  /** A lease not renewed for this long is free for any host to take. */
  leaseExpirationIntervalMs: number;
  /** Wait after a feed range returned nothing new (or after a handler failed). */
  feedPollDelayMs: number;
  /** Changes per batch (one handler call, one checkpoint). */
  maxItemCount: number;
  /** How often the lag estimator refreshes the metrics; 0 = only on demand. */
  estimateIntervalMs: number;
  /** The estimator stops counting a range's lag beyond this many changes. */
  estimateMaxItems: number;
  /**
   * Partition keys of one batch handled at once (one handler call per key, each key's
   * items in order); 1 = the whole batch in one call, in feed order.
   */
  keyConcurrency: number;
  /**
   * Batches of one feed range in flight at once: the next ones are read and started while
   * earlier ones are handled (each key's changes still in feed order, checkpoints in feed
   * order). Only with keyConcurrency > 1 (otherwise 1): 1 = each batch handled and
   * checkpointed before the next read.
   */
  batchesInFlight: number;
  /** Container holding the lease documents. */
  leaseContainer: string;
  /**
   * Attempts at one batch before its failing changes are isolated (each handled alone),
   * recorded as dead letters and skipped, so a poison change cannot block its range.
   */
  maxBatchAttempts: number;
}

export const DEFAULT_PROCESSOR_OPTIONS: ProcessorOptions = {
  leaseRenewIntervalMs: 17_000,
  leaseAcquireIntervalMs: 13_000,
  leaseExpirationIntervalMs: 60_000,
  feedPollDelayMs: 5_000,
  maxItemCount: 100,
  estimateIntervalMs: 30_000,
  estimateMaxItems: 10_000,
  keyConcurrency: 1,
  batchesInFlight: 1,
  leaseContainer: 'leases',
  maxBatchAttempts: 5,
};

/** Fills in defaults and rejects settings that cannot work (a typed error, at construction). */
export function resolveProcessorOptions(partial: Partial<ProcessorOptions> = {}): ProcessorOptions {
  const o: ProcessorOptions = { ...DEFAULT_PROCESSOR_OPTIONS };
  for (const [k, v] of Object.entries(partial)) {
    if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  }
  const positive: (keyof ProcessorOptions)[] = [
    'leaseRenewIntervalMs',
    'leaseAcquireIntervalMs',
    'leaseExpirationIntervalMs',
    'feedPollDelayMs',
    'maxItemCount',
    'estimateMaxItems',
    'maxBatchAttempts',
    'keyConcurrency',
    'batchesInFlight',
  ];
  for (const k of positive) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new RangeError(
        `change-feed processor option ${k} must be a positive number (got ${String(v)})`,
      );
    }
  }
  for (const k of ['keyConcurrency', 'batchesInFlight', 'maxItemCount'] as const) {
    if (!Number.isInteger(o[k]))
      throw new RangeError(
        `change-feed processor option ${k} must be a whole number (got ${o[k]})`,
      );
  }
  if (!Number.isFinite(o.estimateIntervalMs) || o.estimateIntervalMs < 0) {
    throw new RangeError('change-feed processor option estimateIntervalMs must be >= 0');
  }
  // Without keys to order by, a batch is one call in feed order: overlapping two would reorder them.
  if (o.keyConcurrency <= 1) o.batchesInFlight = 1;
  // An owner must renew well within the expiry, or its leases would be stolen while it is healthy.
  if (o.leaseRenewIntervalMs >= o.leaseExpirationIntervalMs) {
    throw new RangeError('leaseRenewIntervalMs must be shorter than leaseExpirationIntervalMs');
  }
  return o;
}
