import { asWorker } from '../../canonical/session.ts';
import { rowByKey } from '../../canonical/tables/keyed-scan.ts';
import { POST_SCAN, type PostCheckRow, postSnapshot } from '../../canonical/tables/posts.ts';
import { isUuid } from '../../ids.ts';
import type { ProjectionContainer } from '../../projections/port.ts';
import { postDoc, postTombstone } from '../../readmodel/builders.ts';
import { canonicalReactionCounts } from '../../readmodel/counters.ts';
import { CONTAINERS, type PostDoc } from '../../readmodel/documents.ts';
import type { Db } from '../../sql/db.ts';
import { convergeDoc } from './converge.ts';
import { checkKeyedProjection, softDeleted } from './scan.ts';
import type { Drift, KindReport, ReconcileContext, ReconcileOptions } from './types.ts';

type Row = PostCheckRow;

const canonicalPost = (db: Db, id: string): Promise<Row | undefined> =>
  asWorker(db, (tx) => rowByKey(tx, POST_SCAN, id));

/** What posts_v2 should hold for a canonical row; `gone` = absent or soft-deleted is right. */
function expected(row: Row): { doc: PostDoc; gone: boolean } {
  if (row.author_gone) {
    // Account deletion leaves tombstones above any canonical version (see user-deleted.ts).
    const doc = postDoc(postSnapshot(row));
    return { doc: postTombstone(doc, doc.updatedAt), gone: true };
  }
  const doc = postDoc(postSnapshot(row));
  return { doc, gone: doc.deleted === true };
}

const sameTags = (a: unknown, b: string[]) =>
  Array.isArray(a) && a.length === b.length && a.every((t, i) => t === b[i]);

/** Compares one stored document with canonical; undefined when it matches. */
function compare(row: Row, stored: PostDoc | undefined): Drift | undefined {
  const { doc, gone } = expected(row);
  const base = { kind: 'posts' as const, id: row.id };
  if (gone) {
    return stored && stored.deleted !== true
      ? {
          ...base,
          problem: 'not_deleted',
          detail: { status: row.status, authorDeleted: row.author_gone },
        }
      : undefined;
  }
  if (!stored) return { ...base, problem: 'missing', detail: { version: doc.sourceVersion } };
  const have = Number(stored.sourceVersion);
  if (have < doc.sourceVersion)
    return { ...base, problem: 'stale', detail: { have, want: doc.sourceVersion } };
  if (
    have !== doc.sourceVersion ||
    stored.deleted === true ||
    stored.status !== doc.status ||
    stored.text !== doc.text ||
    stored.authorId !== doc.authorId ||
    !sameTags(stored.tags, doc.tags)
  ) {
    return {
      ...base,
      problem: 'mismatch',
      detail: { have, want: doc.sourceVersion, status: stored.status },
    };
  }
  return undefined;
}

async function repairPost(
  ctx: ReconcileContext,
  posts: ProjectionContainer,
  id: string,
): Promise<boolean> {
  return convergeDoc<PostDoc>(posts, id, id, async () => {
    const row = await canonicalPost(ctx.db, id);
    if (!row) return undefined;
    const { doc, gone } = expected(row);
    // The repaired document carries the post's canonical reaction counts, as the pipeline's would.
    if (!gone) return { ...doc, counts: (await canonicalReactionCounts(ctx.db, [id])).get(id) };
    // Should be gone: a soft delete (the change feed then retracts it from every feed).
    const current = (await posts.read<PostDoc>(id, id)).resource;
    return current && current.deleted !== true ? doc : undefined;
  });
}

/**
 * posts_v2 against canonical posts: every live post present at its version and content,
 * every hidden, removed or deleted post (and every post of a deleted account) absent or
 * soft-deleted, and no live document without a canonical post.
 */
export async function reconcilePosts(
  ctx: ReconcileContext,
  opts: ReconcileOptions,
): Promise<KindReport> {
  const posts = ctx.store.container(CONTAINERS.posts);
  return checkKeyedProjection<Row, PostDoc>(ctx, opts, {
    kind: 'posts',
    container: posts,
    scan: POST_SCAN,
    compare,
    strayDetail: (d) => ({ authorId: d.authorId }),
    repair: (d) =>
      d.problem === 'stray'
        ? convergeDoc<PostDoc>(posts, d.id, d.id, async () => {
            if (isUuid(d.id) && (await canonicalPost(ctx.db, d.id))) return undefined; // appeared meanwhile
            return softDeleted((await posts.read<PostDoc>(d.id, d.id)).resource);
          })
        : repairPost(ctx, posts, d.id),
  });
}
