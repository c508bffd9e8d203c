import { asUser } from '../canonical/session.ts';
import { postAuthor } from '../canonical/tables/posts.ts';
import { deleteReaction, insertReaction } from '../canonical/tables/reactions.ts';
import { NotFoundError } from '../errors.ts';
import type { ReactionType } from '../events/catalogue.ts';
import { emit, pairAggregateId } from '../events/emit.ts';
import type { QueryPage } from '../projections/port.ts';
import { CONTAINERS, type ReactionDoc } from '../readmodel/documents.ts';
import type { Queryable } from '../sql/db.ts';
import type { DomainContext } from './context.ts';
import { decodeStoreCursor, encodeStoreCursor } from './cursor.ts';

export interface Reaction {
  userId: string;
  type: ReactionType;
  createdAt: string;
}

/** The author of a post the caller can react to (published and visible), else 404. */
async function reactablePostAuthor(tx: Queryable, postId: string): Promise<string> {
  const author = await postAuthor(tx, postId, { published: true });
  if (!author) throw new NotFoundError('post not found');
  return author;
}

const aggregate = (postId: string, userId: string, type: ReactionType) => ({
  type: 'reaction' as const,
  id: pairAggregateId('reaction', postId, userId, type),
});

/** PUT: idempotent; a second PUT changes nothing and emits nothing. */
export async function addReaction(
  ctx: DomainContext,
  userId: string,
  postId: string,
  type: ReactionType,
) {
  await asUser(ctx.db, userId, async (tx) => {
    const postAuthorId = await reactablePostAuthor(tx, postId);
    const createdAt = await insertReaction(tx, postId, userId, type);
    if (!createdAt) return;
    await emit(tx, aggregate(postId, userId, type), 'reaction.added', {
      postId,
      postAuthorId,
      userId,
      type,
      createdAt,
    });
  });
}

/** DELETE: idempotent; removing a reaction that is not there is a no-op. */
export async function removeReaction(
  ctx: DomainContext,
  userId: string,
  postId: string,
  type: ReactionType,
) {
  await asUser(ctx.db, userId, async (tx) => {
    const author = await postAuthor(tx, postId);
    if (!author) throw new NotFoundError('post not found');
    if (!(await deleteReaction(tx, postId, userId, type))) return;
    await emit(tx, aggregate(postId, userId, type), 'reaction.removed', {
      postId,
      postAuthorId: author,
      userId,
      type,
    });
  });
}

/** Reactions on a post from the reactions container (partition postId), newest first. */
export async function listReactions(
  ctx: DomainContext,
  userId: string,
  postId: string,
  q: { type?: ReactionType; limit: number; cursor?: string },
): Promise<{ items: Reaction[]; cursor: string | null }> {
  let continuation: string | null | undefined = decodeStoreCursor(q.cursor);
  await asUser(ctx.db, userId, (tx) => reactablePostAuthor(tx, postId));
  const container = ctx.store.container(CONTAINERS.reactions);
  const items: Reaction[] = [];
  // Soft-deleted reactions are skipped here, so keep reading until the page is full.
  do {
    const page: QueryPage<ReactionDoc> = await container.query<ReactionDoc>({
      partitionKey: postId,
      filters: q.type ? [{ field: 'type', op: '=', value: q.type }] : [],
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: q.limit - items.length,
      continuation,
    });
    for (const d of page.items) {
      if (!d.deleted) items.push({ userId: d.userId, type: d.type, createdAt: d.createdAt });
    }
    continuation = page.continuation;
  } while (continuation && items.length < q.limit);
  return { items, cursor: encodeStoreCursor(continuation ?? null) };
}
