import type { Filter, QueryPage } from '../projections/port.ts';
import { tagKeys } from '../readmodel/builders.ts';
import {
  CONTAINERS,
  isLivePost,
  type PostDoc,
  type PostTagDoc,
  type PublicProfileDoc,
} from '../readmodel/documents.ts';
import { prefixEnd, searchKey } from '../readmodel/search-key.ts';
import type { DomainContext } from './context.ts';
import {
  decodeKeyset,
  decodeNameKeyset,
  encodeKeyset,
  encodeNameKeyset,
  type Keyset,
  keysetBefore,
} from './cursor.ts';
import { postDocsOf } from './post-docs.ts';
import { fromDoc, type Post, presentPosts } from './posts.ts';
import { readContext } from './read-context.ts';
import { type Candidate, type PageFetcher, SortedSource } from './sorted-source.ts';

/**
 * Discovery, read from the projections only: recent published posts (optionally with one
 * tag) and public profiles by display-name prefix. Blocked (either way) and muted users are
 * dropped at read time and the page refilled, so a page is short only at the end. Paging is
 * keyset: (createdAt, id) newest first for posts, (displayNameKey, userId) for people.
 */

/** Blocked (either way) and muted users: from the caller's cached read context. */
const hiddenFor = async (ctx: DomainContext, userId: string) =>
  (await readContext(ctx, userId)).hidden;

const candidate = (d: PostDoc): Candidate => ({ ...fromDoc(d), id: d.postId });

/** posts_v2 on its (status, createdAt DESC) index, across partitions. */
const publishedSource =
  (ctx: DomainContext, after: Keyset | undefined): PageFetcher =>
  async (batch, continuation) => {
    const page = await ctx.store.container(CONTAINERS.posts).query<PostDoc>({
      filters: [{ field: 'status', op: '=', value: 'published' }],
      ...keysetBefore(after),
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: batch,
      continuation,
    });
    return {
      items: page.items.filter((d) => d.deleted !== true).map(candidate),
      continuation: page.continuation,
    };
  };

/** One postTags partition (tag, createdAt DESC): ids and sort keys, the post read afterwards. */
const taggedSource =
  (ctx: DomainContext, tag: string, after: Keyset | undefined): PageFetcher =>
  async (batch, continuation) => {
    const page = await ctx.store.container(CONTAINERS.postTags).query<PostTagDoc>({
      partitionKey: tag,
      ...keysetBefore(after),
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: batch,
      continuation,
    });
    return {
      items: page.items
        .filter((d) => d.deleted !== true)
        .map((d) => ({
          id: d.postId,
          authorId: d.authorId,
          text: '',
          tags: [],
          createdAt: d.createdAt,
          updatedAt: d.createdAt,
        })),
      continuation: page.continuation,
    };
  };

/** The tag entries' posts as they are now: live and still carrying the tag. */
async function readTagged(ctx: DomainContext, tag: string, cs: Candidate[]): Promise<Candidate[]> {
  const docs = await postDocsOf(
    ctx,
    cs.map((c) => c.id),
  );
  return cs.flatMap((c) => {
    const d = docs.get(c.id);
    return d && isLivePost(d) && tagKeys(d.tags ?? []).includes(tag) ? [candidate(d)] : [];
  });
}

/** GET /v1/discover/posts: published posts newest first, optionally those with one tag. */
export async function discoverPosts(
  ctx: DomainContext,
  userId: string,
  page: { limit: number; cursor?: string; tag?: string },
): Promise<{ items: Post[]; cursor: string | null }> {
  const after = decodeKeyset(page.cursor);
  const hidden = await hiddenFor(ctx, userId);
  const tag = page.tag === undefined ? undefined : searchKey(page.tag);
  const batch = Math.max(page.limit + 1, 20);
  const source = new SortedSource(
    tag ? taggedSource(ctx, tag, after) : publishedSource(ctx, after),
    batch,
    after,
  );
  const accepted: Candidate[] = [];
  let exhausted = false;
  while (accepted.length <= page.limit && !exhausted) {
    const round: Candidate[] = [];
    while (round.length < page.limit + 1 - accepted.length) {
      if (!(await source.peek())) {
        exhausted = true;
        break;
      }
      const next = source.shift() as Candidate;
      if (!hidden.has(next.authorId)) round.push(next);
    }
    accepted.push(...(tag ? await readTagged(ctx, tag, round) : round));
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

export interface ProfileSummary {
  userId: string;
  displayName: string;
  bio: string | null;
  avatarUrl: string | null;
}

/**
 * GET /v1/discover/users: public profiles whose display name starts with `q` (compared as
 * search keys, so case and accents do not matter), by name. One cross-partition range
 * query on publicProfiles' (privacyLevel, displayNameKey, userId) index; the store's own
 * continuation is used only within this request, the client gets a (key, id) keyset.
 */
export async function discoverUsers(
  ctx: DomainContext,
  userId: string,
  page: { limit: number; cursor?: string; q?: string },
): Promise<{ items: ProfileSummary[]; cursor: string | null }> {
  const after = decodeNameKeyset(page.cursor);
  const hidden = await hiddenFor(ctx, userId);
  const prefix = searchKey(page.q ?? '');
  const from = after && after.k > prefix ? after.k : prefix;
  const end = prefix ? prefixEnd(prefix) : undefined;
  const filters: Filter[] = [
    { field: 'privacyLevel', op: '=', value: 'public' },
    { field: 'displayNameKey', op: '>=', value: from },
    ...(end === undefined ? [] : [{ field: 'displayNameKey', op: '<' as const, value: end }]),
  ];
  const profiles = ctx.store.container(CONTAINERS.publicProfiles);
  const accepted: PublicProfileDoc[] = [];
  let continuation: string | null = null;
  do {
    const res: QueryPage<PublicProfileDoc> = await profiles.query<PublicProfileDoc>({
      filters,
      orderBy: [
        { field: 'displayNameKey', direction: 'ASC' },
        { field: 'userId', direction: 'ASC' },
      ],
      limit: Math.max(page.limit + 1, 20),
      continuation,
    });
    for (const d of res.items) {
      const key = d.displayNameKey ?? '';
      // A fresh query starts at the cursor's key: skip what that key's earlier pages held.
      if (after && (key < after.k || (key === after.k && d.userId <= after.id))) continue;
      if (d.deleted === true || hidden.has(d.userId)) continue;
      accepted.push(d);
    }
    continuation = res.continuation;
  } while (continuation && accepted.length <= page.limit);
  const items = accepted.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items: items.map((d) => ({
      userId: d.userId,
      displayName: d.displayName,
      bio: d.bio,
      avatarUrl: d.avatarUrl,
    })),
    cursor:
      accepted.length > page.limit && last
        ? encodeNameKeyset({ k: last.displayNameKey ?? '', id: last.userId })
        : null,
  };
}
