import { asUser } from '../canonical/session.ts';
import { postSnapshot, publishedPostsPage } from '../canonical/tables/posts.ts';
import {
  CONTAINERS,
  type FeedItemDoc,
  feedItemId,
  isLivePost,
  type PostDoc,
  type ReactionCounts,
} from '../readmodel/documents.ts';
import type { DomainContext } from './context.ts';
import { decodeKeyset, encodeKeyset, type Keyset, keysetBefore } from './cursor.ts';
import { postDocsOf } from './post-docs.ts';
import { type Post, presentPosts } from './posts.ts';
import { readContext } from './read-context.ts';
import { type Candidate, type PageFetcher, SortedSource, takeNewest } from './sorted-source.ts';

/**
 * How long after posting the caller's feed also merges their own posts from canonical.
 * The pipeline puts every post into its author's own feed within about a second; until
 * then canonical gives read-after-write. Past this window the merge costs nothing.
 */
export const OWN_POSTS_MERGE_MS = 15_000;

const fromFeedItem = (d: FeedItemDoc): Candidate => ({
  id: d.postId,
  authorId: d.authorId,
  text: d.text,
  tags: d.tags ?? [],
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

/** The caller's fanned-out feed: one partition-scoped query per page (recipientId, createdAt DESC). */
const userFeedSource =
  (ctx: DomainContext, userId: string, after: Keyset | undefined): PageFetcher =>
  async (batch, continuation) => {
    const page = await ctx.store.container(CONTAINERS.userFeed).query<FeedItemDoc>({
      partitionKey: userId,
      ...keysetBefore(after, (postId) => feedItemId(userId, postId)),
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: batch,
      continuation,
    });
    return { items: page.items.map(fromFeedItem), continuation: page.continuation };
  };

/** A high-follower author's posts from posts_v2 (authorId, createdAt DESC). */
const authorSource =
  (ctx: DomainContext, authorId: string, after: Keyset | undefined): PageFetcher =>
  async (batch, continuation) => {
    const page = await ctx.store.container(CONTAINERS.posts).query<PostDoc>({
      filters: [
        { field: 'authorId', op: '=', value: authorId },
        { field: 'status', op: '=', value: 'published' },
      ],
      ...keysetBefore(after),
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: batch,
      continuation,
    });
    return {
      items: page.items.map((d) => ({ ...d, id: d.postId, tags: d.tags ?? [] })),
      continuation: page.continuation,
    };
  };

/**
 * The caller's own posts from canonical: read-after-write even before the pipeline delivered
 * them (or if the direct posts_v2 write failed).
 */
const ownSource =
  (ctx: DomainContext, userId: string, after: Keyset | undefined): PageFetcher =>
  async (batch, continuation) => {
    const from = continuation ? (JSON.parse(continuation) as Keyset) : after;
    const rows = await asUser(ctx.db, userId, (tx) => publishedPostsPage(tx, userId, from, batch));
    const items = rows.map((r) => {
      const { id, authorId, text, tags, createdAt, updatedAt } = postSnapshot(r);
      return { id, authorId, text, tags, createdAt, updatedAt };
    });
    const last = items.at(-1);
    return {
      items,
      continuation:
        items.length === batch && last ? JSON.stringify({ t: last.createdAt, id: last.id }) : null,
    };
  };

type Hydrated = Candidate & { counts?: ReactionCounts | undefined };

/**
 * Drops candidates whose post is gone or no longer published (posts_v2 is the freshest
 * projection), refreshes edited text and takes the reaction counts the document carries.
 * A candidate without a posts_v2 document is kept: it comes from canonical or the feed
 * copy and the projection has not caught up yet.
 */
async function hydrate(ctx: DomainContext, candidates: Candidate[]): Promise<Hydrated[]> {
  const docs = await postDocsOf(
    ctx,
    candidates.map((c) => c.id),
  );
  const out: Hydrated[] = [];
  for (const c of candidates) {
    const d = docs.get(c.id);
    if (!d) out.push(c);
    else if (isLivePost(d))
      out.push({
        ...c,
        text: d.text,
        tags: d.tags ?? [],
        updatedAt: d.updatedAt,
        counts: d.counts,
      });
  }
  return out;
}

/**
 * GET /v1/feed: newest first. Merges the fanned-out userFeed partition, posts of followed
 * high-follower authors and the caller's own posts; filters blocked or muted authors and
 * deleted posts at read time and refills, so a page is short only at the end.
 */
export async function readFeed(
  ctx: DomainContext,
  userId: string,
  page: { limit: number; cursor?: string },
): Promise<{ items: Post[]; cursor: string | null }> {
  const after = decodeKeyset(page.cursor);
  const rc = await readContext(ctx, userId);
  // limit + 1 items tell whether there is a next page, and a source holds its last item
  // back until it knows the tie group is complete: limit + 2 lets one query serve a page.
  const batch = page.limit + 2;
  const sources = [
    new SortedSource(userFeedSource(ctx, userId, after), batch, after),
    ...(Date.now() - rc.lastPostAt < OWN_POSTS_MERGE_MS
      ? [new SortedSource(ownSource(ctx, userId, after), batch, after)]
      : []),
    ...rc.bigFollowees
      .filter((id) => !rc.hidden.has(id))
      .map((id) => new SortedSource(authorSource(ctx, id, after), batch, after)),
  ];
  const seen = new Set<string>();
  const accepted: Hydrated[] = [];
  let exhausted = false;
  while (accepted.length <= page.limit && !exhausted) {
    const wanted = page.limit + 1 - accepted.length;
    const round: Candidate[] = [];
    while (round.length < wanted) {
      const next = await takeNewest(sources);
      if (!next) {
        exhausted = true;
        break;
      }
      if (seen.has(next.id)) continue;
      seen.add(next.id);
      if (next.authorId !== userId && rc.hidden.has(next.authorId)) continue;
      round.push(next);
    }
    accepted.push(...(await hydrate(ctx, round)));
  }
  const items = accepted.slice(0, page.limit);
  const last = items.at(-1);
  const cursor =
    accepted.length > page.limit && last ? encodeKeyset({ t: last.createdAt, id: last.id }) : null;
  return {
    items: await presentPosts(
      ctx,
      items.map((c) => ({ ...c, status: 'published' as const })),
    ),
    cursor,
  };
}
