import { readArchivedPosts } from '../archive/read.ts';
import { asUser, type Caller } from '../canonical/session.ts';
import { insertAuditEntry } from '../canonical/tables/audit-log.ts';
import {
  archivePointers,
  insertPost,
  markPostDeleted,
  type PostRow,
  postSnapshot,
  readPost,
  updatePostContent,
} from '../canonical/tables/posts.ts';
import { userVisible } from '../canonical/tables/users.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import { type PostSnapshot, REACTION_TYPES } from '../events/catalogue.ts';
import { emit } from '../events/emit.ts';
import { CONTAINERS, isLivePost, type PostDoc } from '../readmodel/documents.ts';
import type { Queryable } from '../sql/db.ts';
import type { DomainContext } from './context.ts';
import { postCounts, type ReactionCounts } from './counts.ts';
import { decodeStoreCursor, encodeStoreCursor } from './cursor.ts';
import { writePostDoc } from './post-doc.ts';
import { noteOwnPost } from './read-context.ts';
import type { CreatePostInput, EditPostInput } from './schemas.ts';

type PostLike = Omit<PostSnapshot, 'version'> & { counts?: ReactionCounts | undefined };
export type Post = Omit<PostSnapshot, 'version'> & { counts: ReactionCounts };

/** Attaches reaction counts: the documents' own, canonical only for posts without them. */
export async function presentPosts(ctx: DomainContext, posts: PostLike[]): Promise<Post[]> {
  const counts = await postCounts(ctx, posts);
  // Only the public fields: callers may pass a snapshot (with its version) or a document.
  return posts.map(({ id, authorId, text, tags, status, createdAt, updatedAt }) => ({
    ...{ id, authorId, text, tags, status, createdAt, updatedAt },
    counts: counts.get(id)!,
  }));
}

export const fromDoc = (d: PostDoc): PostLike => ({
  id: d.postId,
  authorId: d.authorId,
  text: d.text,
  tags: d.tags ?? [],
  status: d.status,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
  counts: d.counts,
});

/** Dual write: canonical row + post.created in one transaction, then posts_v2 directly. */
export async function createPost(
  ctx: DomainContext,
  userId: string,
  input: CreatePostInput,
): Promise<Post> {
  const snapshot = await asUser(ctx.db, userId, async (tx) => {
    const s = postSnapshot(await insertPost(tx, userId, input.text, input.tags ?? []));
    await emit(tx, { type: 'post', id: s.id }, 'post.created', s);
    return s;
  });
  await writePostDoc(ctx, snapshot);
  noteOwnPost(ctx, userId, snapshot.createdAt);
  // A new post has no reactions: no counters read, so a projection outage cannot fail a committed create.
  const counts = Object.fromEntries(REACTION_TYPES.map((t) => [t, 0])) as ReactionCounts;
  const { version: _version, ...post } = snapshot;
  return { ...post, counts };
}

const isModerator = (c: Caller) => c.role === 'admin' || c.role === 'moderator';

/** A post as the caller may see it: published for everyone; hidden or removed only for its author and moderators. */
export async function getPost(ctx: DomainContext, userId: string, postId: string): Promise<Post> {
  const { resource } = await ctx.store.container(CONTAINERS.posts).read<PostDoc>(postId, postId);
  if (resource && isLivePost(resource)) {
    const [post] = await presentPosts(ctx, [fromDoc(resource)]);
    return post!;
  }
  // Not (yet) in the projection, or not public: canonical decides, under the caller's RLS.
  const row = await asUser(ctx.db, userId, async (tx, caller) => {
    const r = await readPost(tx, postId);
    if (!r || r.status === 'deleted') return undefined;
    if (r.status !== 'published' && r.author_id !== caller.userId && !isModerator(caller))
      return undefined;
    return r.archived_at ? { ...r, text: await archivedText(ctx, tx, r.id) } : r;
  });
  if (!row) throw new NotFoundError('post not found');
  const { archivedAt: _archived, ...snapshot } = postSnapshot(row);
  const [post] = await presentPosts(ctx, [snapshot]);
  return post!;
}

/** An archived post's text, from cold storage (its checksum checked). */
async function archivedText(ctx: DomainContext, tx: Queryable, postId: string): Promise<string> {
  if (!ctx.archive)
    throw new NotFoundError('post not found (archived; no cold storage configured)');
  const pointers = await archivePointers(tx, [postId]);
  const copy = (await readArchivedPosts(tx, ctx.archive, pointers)).get(postId);
  if (!copy) throw new NotFoundError('post not found in cold storage');
  return copy.text;
}

/** The live post (no FOR UPDATE: RLS would hide others' posts and turn a 403 into a 404). */
async function livePost(tx: Queryable, postId: string): Promise<PostRow> {
  const r = await readPost(tx, postId);
  if (!r || r.status === 'deleted') throw new NotFoundError('post not found');
  return r;
}

/** Archived posts are read-only until restored. */
function checkNotArchived(r: PostRow): void {
  if (r.archived_at)
    throw new ConflictError('the post is archived; restore it first', 'post_archived');
}

/** Edit by the author only; `version`, when given, must match (optimistic concurrency). */
export async function editPost(
  ctx: DomainContext,
  userId: string,
  postId: string,
  input: EditPostInput,
): Promise<Post> {
  const snapshot = await asUser(ctx.db, userId, async (tx) => {
    const current = await livePost(tx, postId);
    if (current.author_id !== userId) throw new ForbiddenError('only the author can edit a post');
    checkNotArchived(current);
    if (current.status !== 'published')
      throw new ConflictError(`the post is ${current.status}`, 'post_not_editable');
    if (input.version !== undefined && input.version !== Number(current.version)) {
      throw new ConflictError(
        `the post changed: it is at version ${current.version}`,
        'version_conflict',
      );
    }
    const row = await updatePostContent(
      tx,
      postId,
      current.version,
      input.text ?? current.text ?? '',
      input.tags ?? current.tags,
    );
    if (!row) throw new ConflictError('the post changed concurrently; retry', 'version_conflict');
    const s = postSnapshot(row);
    await emit(tx, { type: 'post', id: postId }, 'post.updated', s);
    return s;
  });
  await writePostDoc(ctx, snapshot);
  const [post] = await presentPosts(ctx, [snapshot]);
  return post!;
}

/** Delete by the author, an admin or a moderator: status 'deleted' (canonical soft delete). */
export async function deletePost(
  ctx: DomainContext,
  userId: string,
  postId: string,
): Promise<void> {
  const snapshot = await asUser(ctx.db, userId, async (tx, caller) => {
    const current = await livePost(tx, postId);
    if (current.author_id !== userId && !isModerator(caller)) {
      throw new ForbiddenError('only the author or a moderator can delete a post');
    }
    if (current.status === 'removed' && !isModerator(caller)) {
      throw new ConflictError('the post was removed by a moderator', 'post_removed');
    }
    const row = await markPostDeleted(tx, postId, current.version);
    if (!row) throw new ConflictError('the post changed concurrently; retry', 'version_conflict');
    const s = postSnapshot(row);
    await emit(tx, { type: 'post', id: postId }, 'post.deleted', s);
    if (current.author_id !== userId) {
      await insertAuditEntry(tx, {
        actorId: userId,
        action: 'post.delete',
        subjectType: 'post',
        subjectId: postId,
      });
    }
    return s;
  });
  await writePostDoc(ctx, snapshot);
}

/** An author's published posts, newest first (posts_v2: authorId, createdAt DESC). */
export async function listUserPosts(
  ctx: DomainContext,
  userId: string,
  authorId: string,
  page: { limit: number; cursor?: string },
): Promise<{ items: Post[]; cursor: string | null }> {
  const continuation = decodeStoreCursor(page.cursor);
  const exists = await asUser(ctx.db, userId, (tx) => userVisible(tx, authorId));
  if (!exists) throw new NotFoundError('user not found');
  const result = await ctx.store.container(CONTAINERS.posts).query<PostDoc>({
    filters: [
      { field: 'authorId', op: '=', value: authorId },
      { field: 'status', op: '=', value: 'published' },
    ],
    orderBy: [{ field: 'createdAt', direction: 'DESC' }],
    limit: page.limit,
    continuation,
  });
  const items = await presentPosts(ctx, result.items.filter((d) => !d.deleted).map(fromDoc));
  return { items, cursor: encodeStoreCursor(result.continuation) };
}
