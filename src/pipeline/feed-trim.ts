import { createHash } from 'node:crypto';
import { allItems, pages } from '../lib/paging.ts';
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
  const h = createHash('sha1').update(`${recipientId}:${postId}`).digest().readUInt32BE(0);
  return h % every === 0;
}
