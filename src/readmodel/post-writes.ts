import { asWorker } from '../canonical/session.ts';
import { postSnapshot, readPost } from '../canonical/tables/posts.ts';
import type { PostSnapshot } from '../events/catalogue.ts';
import type { ProjectionContainer } from '../projections/port.ts';
import type { Db } from '../sql/db.ts';
import { postDoc, zeroCounts } from './builders.ts';
import { canonicalReactionCounts } from './counters.ts';
import type { PostDoc } from './documents.ts';
import { recomputeIfUnchanged, upsertIfNewer } from './guarded-write.ts';

/**
 * The two writers of a posts_v2 document. A post version (the domain's direct write, the
 * relay's post events) is version-guarded and keeps the counts stored on the document: a
 * post event knows the text, not the reactions. A post at version 1 is new and has no
 * reactions yet; a reaction that lands before this write finds no document and creates it
 * from canonical with its count (refreshPostCounts).
 *
 * With `canonical` (the relay, whose events may be late or replayed), a missing document
 * is created only if this is still the post's canonical version: the tombstone of a later
 * delete may have expired, and an older version must not resurrect the post. The domain's
 * direct write runs right after its own commit, well inside the tombstone TTL, and skips
 * the read.
 */
export function upsertPostDoc(posts: ProjectionContainer, p: PostSnapshot, canonical?: Db) {
  const doc = p.version === 1 ? { ...postDoc(p), counts: zeroCounts() } : postDoc(p);
  return upsertIfNewer(posts, doc, {
    carry: ['counts'],
    mayCreate: canonical
      ? async () =>
          Number((await asWorker(canonical, (tx) => readPost(tx, p.id)))?.version) === p.version
      : undefined,
  });
}

/**
 * Stores a post's canonical reaction counts on its posts_v2 document, etag-guarded
 * (recomputeIfUnchanged): counted after the document was read, written only if it did not
 * change since. Written even when unchanged, since the new etag is what makes an older,
 * slower recompute fail its conditional write. A published post whose document does not
 * exist yet (its direct write failed and the relay has not run) gets it created from
 * canonical, counts included; the post event that follows finds the same version and
 * keeps it. Returns the counts stored, or undefined when the post is not published.
 */
export async function refreshPostCounts(
  db: Db,
  posts: ProjectionContainer,
  postId: string,
): Promise<PostDoc['counts']> {
  const doc = await recomputeIfUnchanged<PostDoc>(posts, postId, postId, async (current) => {
    let body: PostDoc;
    if (current) {
      const { _etag, _ts, ...rest } = current;
      body = rest;
    } else {
      const row = await asWorker(db, (tx) => readPost(tx, postId));
      if (row?.status !== 'published') return undefined;
      body = postDoc(postSnapshot(row));
    }
    const counts = (await canonicalReactionCounts(db, [postId])).get(postId)!;
    return { ...body, counts };
  });
  return doc?.counts;
}
