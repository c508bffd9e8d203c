import { createHash } from 'node:crypto';
import type { BulkOp, ProjectionContainer } from '../projections/port.ts';
import type { FeedItemDoc } from '../readmodel/documents.ts';
import { assertBulkOk } from './fanout-feed.ts';

/** Newest first, in the shape the userFeed composite index (recipientId ASC, createdAt DESC) serves. */
export const FEED_ORDER = [
  { field: 'recipientId', direction: 'ASC' as const },
  { field: 'createdAt', direction: 'DESC' as const },
];

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
  let continuation: string | null = null;
  const doomed: BulkOp[] = [];
  do {
    const page: Awaited<ReturnType<typeof feed.query<FeedItemDoc>>> = await feed.query<FeedItemDoc>(
      {
        partitionKey: recipientId,
        orderBy: FEED_ORDER,
        limit: 500,
        continuation,
      },
    );
    for (const item of page.items) {
      if (++seen > cap) doomed.push({ op: 'delete', id: item.id, partitionKey: recipientId });
    }
    continuation = page.continuation;
  } while (continuation);
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
