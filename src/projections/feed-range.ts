import type { FeedRange } from './port.ts';

/**
 * Feed ranges are intervals [min, max) of the effective-partition-key space, as Cosmos DB
 * names them: hex strings compared as strings, '' the lowest key and 'FF' above every key.
 * A split turns one range into adjacent children; a merge turns adjacent ranges into one.
 * The change-feed processor reasons about leases with these helpers only, so the same
 * code follows splits and merges on Cosmos DB and on the embedded store.
 */

export const EPK_MIN = '';
export const EPK_MAX = 'FF';

/** Ranges are well-formed when min < max (string order) and both are hex strings. */
export function isFeedRange(r: unknown): r is FeedRange {
  const x = r as Partial<FeedRange> | null;
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof x.id === 'string' &&
    typeof x.min === 'string' &&
    typeof x.max === 'string' &&
    /^[0-9A-F]*$/.test(x.min) &&
    /^[0-9A-F]+$/.test(x.max) &&
    x.min < x.max
  );
}

/** The larger / smaller of two keys in key (string) order. */
export const maxKey = (a: string, b: string): string => [a, b].sort()[1] as string;
export const minKey = (a: string, b: string): string => [a, b].sort()[0] as string;

/** `inner` lies entirely within `outer`. */
export const containsRange = (outer: FeedRange, inner: FeedRange): boolean =>
  outer.min <= inner.min && inner.max <= outer.max;

export const overlapsRange = (a: FeedRange, b: FeedRange): boolean =>
  a.min < b.max && b.min < a.max;

/** The part of `a` inside `b` (call only when they overlap); keeps b's id when it is all of b. */
export function intersectRange(a: FeedRange, b: FeedRange, id: string): FeedRange {
  const min = maxKey(a.min, b.min);
  const max = minKey(a.max, b.max);
  return { id: min === b.min && max === b.max ? b.id : id, min, max };
}

export const sameRange = (a: FeedRange, b: FeedRange): boolean =>
  a.min === b.min && a.max === b.max;
