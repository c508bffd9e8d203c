import { maxKey, minKey } from '../feed-range.ts';
import type { FeedRange } from '../port.ts';
import { ProjectionError } from '../port.ts';

/**
 * The SDK's change-feed continuation for a feed range: JSON naming the container (rid) and,
 * per physical range it covers, the range's bounds and its position (an etag/LSN). After a
 * split the SDK lists each child with the parent's position; that is the signal we turn
 * into 'gone', and the same rewrite gives each child lease its part of the parent's token.
 */
interface Part {
  minInclusive: string;
  maxExclusive: string;
  continuationToken?: string;
}

interface Token {
  rid: string;
  Continuation: Part[];
}

export function parseFeedToken(token: string): Token {
  let t: Token | null = null;
  try {
    t = JSON.parse(token) as Token;
  } catch (err) {
    throw new ProjectionError('bad_request', 'malformed change-feed continuation', err);
  }
  if (
    t === null ||
    typeof t !== 'object' ||
    typeof t.rid !== 'string' ||
    !Array.isArray(t.Continuation) ||
    t.Continuation.length === 0 ||
    !t.Continuation.every(
      (p) => typeof p?.minInclusive === 'string' && typeof p?.maxExclusive === 'string',
    )
  ) {
    throw new ProjectionError('bad_request', 'malformed change-feed continuation');
  }
  return t;
}

/**
 * The token clipped to `range` (a child of the range it was read from keeps the parent's
 * position for its own keys only). Refused when the token does not cover the range.
 */
export function narrowFeedToken(token: string, range: FeedRange): { token: string; parts: number } {
  const t = parseFeedToken(token);
  const parts: Part[] = [];
  for (const p of t.Continuation) {
    const min = maxKey(p.minInclusive, range.min);
    const max = minKey(p.maxExclusive, range.max);
    if (min < max) parts.push({ ...p, minInclusive: min, maxExclusive: max });
  }
  parts.sort((a, b) => (a.minInclusive < b.minInclusive ? -1 : 1));
  const covered =
    parts.length > 0 &&
    parts[0]?.minInclusive === range.min &&
    parts[parts.length - 1]?.maxExclusive === range.max &&
    parts.every((p, i) => i === 0 || parts[i - 1]?.maxExclusive === p.minInclusive);
  if (!covered) {
    throw new ProjectionError(
      'bad_request',
      `continuation does not cover feed range ${JSON.stringify(range.id)}`,
    );
  }
  return { token: JSON.stringify({ ...t, Continuation: parts }), parts: parts.length };
}
