import type { BulkOp, BulkResult, ProjectionContainer } from '../projections/port.ts';
import { feedItemFor } from '../readmodel/builders.ts';
import { type FeedItemDoc, feedItemId, type PostDoc } from '../readmodel/documents.ts';

/**
 * Bulk writes are not atomic: any op that did not succeed fails the whole call (it is
 * retried). 404 (already deleted) and, for a version-guarded write, 412 (a newer version
 * is stored) are outcomes, not failures. `idAt(i)` is the id of the item op i wrote.
 */
export function assertStatusesOk(
  container: ProjectionContainer,
  res: BulkResult,
  idAt: (i: number) => string,
  opts: { guarded?: boolean } = {},
): void {
  let bad = 0;
  let first = -1;
  res.statuses.forEach((s, i) => {
    if ((s >= 200 && s < 300) || s === 404 || (opts.guarded && s === 412)) return;
    bad++;
    if (first < 0) first = i;
  });
  if (bad > 0) {
    throw new Error(
      `${container.def.name}: ${bad} of ${res.statuses.length} bulk operations failed (first: ${idAt(first)} → ${res.statuses[first]})`,
    );
  }
}

/** assertStatusesOk for bulk(ops). */
export const assertBulkOk = (
  container: ProjectionContainer,
  ops: BulkOp[],
  res: BulkResult,
  opts: { guarded?: boolean } = {},
): void =>
  assertStatusesOk(
    container,
    res,
    (i) => {
      const op = ops[i]!;
      return op.op === 'upsert' ? op.doc.id : op.id;
    },
    opts,
  );

async function existingVersions(feed: ProjectionContainer, postId: string, recipients: string[]) {
  const keys = recipients.map((r) => ({ id: feedItemId(r, postId), partitionKey: r }));
  const page = await feed.readMany<FeedItemDoc>(keys);
  return new Map(page.items.map((d) => [d.recipientId, Number(d.sourceVersion)]));
}

/**
 * Writes the post into each recipient's feed unless the feed already holds this or a newer
 * version of it (the store's version guard on sourceVersion: a late, older delivery never
 * overwrites a newer one), in one bulk call: copies of one feed item, keyed per recipient.
 * Returns the recipients whose feed gained a new item (candidates for trimming).
 */
export async function deliverToRecipients(
  feed: ProjectionContainer,
  post: PostDoc,
  recipients: string[],
): Promise<{ written: number; added: string[] }> {
  if (recipients.length === 0) return { written: 0, added: [] };
  const targets = recipients.map((r) => ({ id: feedItemId(r, post.postId), partitionKey: r }));
  const doc = feedItemFor(recipients[0]!, post);
  const res = await feed.upsertCopies([{ doc, targets }], { ifNewer: 'sourceVersion' });
  assertStatusesOk(feed, res, (i) => targets[i]!.id, { guarded: true });
  let written = 0;
  const added: string[] = [];
  res.statuses.forEach((s, i) => {
    if (s === 200 || s === 201) written++;
    if (s === 201) added.push(recipients[i]!);
  });
  return { written, added };
}

/** Removes the post from each recipient's feed, except items already at a newer version. */
export async function retractFromRecipients(
  feed: ProjectionContainer,
  postId: string,
  version: number,
  recipients: string[],
): Promise<number> {
  if (recipients.length === 0) return 0;
  const have = await existingVersions(feed, postId, recipients);
  const ops: BulkOp[] = [...have]
    .filter(([, v]) => v <= version)
    .map(([r]) => ({ op: 'delete', id: feedItemId(r, postId), partitionKey: r }));
  if (ops.length === 0) return 0;
  assertBulkOk(feed, ops, await feed.bulk(ops));
  return ops.length;
}
