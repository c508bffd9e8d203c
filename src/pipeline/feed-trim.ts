import { forEachLimited } from '../lib/concurrency.ts';
import { allItems, pages } from '../lib/paging.ts';
import { hashKey } from '../projections/hash.ts';
import type { BulkOp, ProjectionContainer } from '../projections/port.ts';
import type { FeedItemDoc } from '../readmodel/documents.ts';
import { assertBulkOk } from './fanout-feed.ts';

/** Newest first, in the shape the userFeed composite index (recipientId ASC, createdAt DESC) serves. */
export const FEED_ORDER = [
  { field: 'recipientId', direction: 'ASC' as const },
  { field: 'createdAt', direction: 'DESC' as const },
];

const feedQuery =
  (feed: ProjectionContainer, recipientId: string) => (continuation: string | null) =>
    feed.query<FeedItemDoc>({
      partitionKey: recipientId,
      orderBy: FEED_ORDER,
      limit: 500,
      continuation,
    });

/** One recipient's feed, newest first, page by page. */
export const feedPages = (feed: ProjectionContainer, recipientId: string) =>
  pages(feedQuery(feed, recipientId));

/** Every item of one recipient's feed, newest first. */
export const readFeed = (feed: ProjectionContainer, recipientId: string) =>
  allItems(feedQuery(feed, recipientId));

/**
 * Deletes the items of one recipient's feed beyond the newest `cap`. Reads the partition
 * newest first (one indexed query per page), so it costs about `cap` item reads: callers
 * run it only when a feed may have grown past the cap.
 */
export async function trimFeed(
  feed: ProjectionContainer,
  recipientId: string,
  cap: number,
): Promise<number> {
  let seen = 0;
  const doomed: BulkOp[] = [];
  for await (const items of feedPages(feed, recipientId)) {
    for (const item of items) {
      if (++seen > cap) doomed.push({ op: 'delete', id: item.id, partitionKey: recipientId });
    }
  }
  for (let i = 0; i < doomed.length; i += 100) {
    const ops = doomed.slice(i, i + 100);
    assertBulkOk(feed, ops, await feed.bulk(ops));
  }
  return doomed.length;
}

/**
 * Whether a delivery that added an item should check the recipient's cap. Checking every
 * time would read ~cap items per delivered item; a deterministic 1-in-`every` sample
 * (by recipient and post, so a redelivery decides the same) keeps the cost to ~cap/every
 * reads per item while a feed overshoots the cap by about `every` items at most on average.
 */
export function shouldCheckCap(recipientId: string, postId: string, every: number): boolean {
  if (every <= 1) return true;
  return hashKey(`${recipientId}:${postId}`) % every === 0;
}

/** Recipients whose size is checked per countPerPartition call. */
const COUNTED_PER_CALL = 500;

/**
 * Trims the feeds among `recipients` that hold more than `cap` items: one size check per
 * 500 recipients (countPerPartition stops counting at cap + 1), then a trim only where one
 * is due, so checking a feed that is under its cap costs no item reads.
 */
export async function trimFeeds(
  feed: ProjectionContainer,
  recipients: string[],
  cap: number,
  concurrency: number,
): Promise<number> {
  let removed = 0;
  for (let i = 0; i < recipients.length; i += COUNTED_PER_CALL) {
    const group = recipients.slice(i, i + COUNTED_PER_CALL);
    const { counts } = await feed.countPerPartition(group, { max: cap + 1 });
    const over = group.filter((_, k) => counts[k]! > cap);
    await forEachLimited(over, concurrency, async (recipient) => {
      // Await first, then add: `x += await f()` would read x before the await and lose
      // updates from the trims running alongside.
      const trimmed = await trimFeed(feed, recipient, cap);
      removed += trimmed;
    });
  }
  return removed;
}
