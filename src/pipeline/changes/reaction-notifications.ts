import { asWorker } from '../../canonical/session.ts';
import { postAuthor as canonicalPostAuthor } from '../../canonical/tables/posts.ts';
import { isProjectionError } from '../../projections/port.ts';
import { reactionNotification, reactionNotificationId } from '../../readmodel/builders.ts';
import {
  CONTAINERS,
  type NotificationDoc,
  type PostDoc,
  type ReactionDoc,
} from '../../readmodel/documents.ts';
import type { PipelineContext } from '../context.ts';

async function postAuthor(ctx: PipelineContext, postId: string): Promise<string | undefined> {
  const doc = (await ctx.store.container(CONTAINERS.posts).read<PostDoc>(postId, postId)).resource;
  if (doc) return doc.authorId;
  return asWorker(ctx.db, (tx) => canonicalPostAuthor(tx, postId));
}

export type NotificationOutcome = 'created' | 'exists' | 'removed' | 'kept-read' | 'none';

/**
 * A reaction → a 'reaction' notification to the post's author (never for reacting to one's
 * own post). Created with `create`, not upsert, so a redelivery does not reset `read`.
 * A removed reaction (soft-deleted doc) takes its notification back while it is unread;
 * one the author already read stays, as a record of what they saw.
 */
export async function notifyReaction(
  ctx: PipelineContext,
  r: ReactionDoc,
): Promise<NotificationOutcome> {
  const notifications = ctx.store.container(CONTAINERS.notifications);
  const authorId = await postAuthor(ctx, r.postId);
  if (!authorId || authorId === r.userId) return 'none';
  const id = reactionNotificationId(r);
  if (r.deleted === true) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const cur = (await notifications.read<NotificationDoc>(id, authorId)).resource;
      if (!cur) return 'none';
      if (cur.read) return 'kept-read';
      try {
        // Conditional: if the author marks it read meanwhile, it stays.
        await notifications.delete(id, authorId, { ifMatch: cur._etag });
        return 'removed';
      } catch (err) {
        if (!isProjectionError(err, 'precondition_failed')) throw err;
      }
    }
    return 'kept-read';
  }
  const doc = reactionNotification(r, authorId);
  try {
    await notifications.create(doc);
    return 'created';
  } catch (err) {
    if (isProjectionError(err, 'conflict')) return 'exists';
    throw err;
  }
}
