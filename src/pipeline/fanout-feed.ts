import type { BulkOp, BulkResult, ProjectionContainer } from '../projections/port.ts';
import { feedItemFor } from '../readmodel/builders.ts';
import { type FeedItemDoc, feedItemId, type PostDoc } from '../readmodel/documents.ts';

/** Bulk writes are not atomic: any op that did not succeed fails the whole call (it is retried). */
export function assertBulkOk(container: ProjectionContainer, ops: BulkOp[], res: BulkResult): void {
  const bad = res.statuses
    .map((s, i) => ({ s, op: ops[i]! }))
    .filter(({ s }) => !(s >= 200 && s < 300) && s !== 404);
  if (bad.length > 0) {
    const first = bad[0]!;
    const id = first.op.op === 'upsert' ? first.op.doc.id : first.op.id;
    throw new Error(
      `${container.def.name}: ${bad.length} of ${ops.length} bulk operations failed (first: ${id} → ${first.s})`,
    );
  }
}

async function existingVersions(feed: ProjectionContainer, postId: string, recipients: string[]) {
  const keys = recipients.map((r) => ({ id: feedItemId(r, postId), partitionKey: r }));
  const page = await feed.readMany<FeedItemDoc>(keys);
  return new Map(page.items.map((d) => [d.recipientId, Number(d.sourceVersion)]));
}

/**
 * Writes the post into each recipient's feed unless the feed already holds this or a newer
 * version of it (the version guard: a late, older delivery never overwrites a newer one).
 * Returns the recipients whose feed gained a new item (candidates for trimming).
 */
export async function deliverToRecipients(
  feed: ProjectionContainer,
  post: PostDoc,
  recipients: string[],
): Promise<{ written: number; added: string[] }> {
  if (recipients.length === 0) return { written: 0, added: [] };
  const have = await existingVersions(feed, post.postId, recipients);
  const targets = recipients.filter((r) => (have.get(r) ?? -1) < post.sourceVersion);
  if (targets.length === 0) return { written: 0, added: [] };
  const ops: BulkOp[] = targets.map((r) => ({ op: 'upsert', doc: feedItemFor(r, post) }));
  assertBulkOk(feed, ops, await feed.bulk(ops));
  return { written: targets.length, added: targets.filter((r) => !have.has(r)) };
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
