import { z } from 'zod';
import { type EventPayloads, type EventType, REACTION_TYPES } from '../../outbox/events.ts';

/**
 * Shapes of the outbox payloads, checked before a handler touches a store: a malformed
 * event fails with a message naming the field (and is retried, then dead-lettered)
 * instead of writing a half-formed document.
 */
const id = z.guid();
const time = z.string().min(1);
const reactionType = z.enum(REACTION_TYPES as [string, ...string[]]);

const post = z.object({
  id,
  authorId: id,
  text: z.string(),
  tags: z.array(z.string()),
  status: z.enum(['published', 'hidden', 'removed', 'deleted']),
  version: z.number().int().positive(),
  createdAt: time,
  updatedAt: time,
});

const schemas: { [E in EventType]: z.ZodType } = {
  'post.created': post,
  'post.updated': post,
  'post.deleted': post,
  'post.moderated': post,
  'reaction.added': z.object({
    postId: id,
    postAuthorId: id,
    userId: id,
    type: reactionType,
    createdAt: time,
  }),
  'reaction.removed': z.object({ postId: id, postAuthorId: id, userId: id, type: reactionType }),
  'follow.created': z.object({ followerId: id, followeeId: id, createdAt: time }),
  'follow.removed': z.object({ followerId: id, followeeId: id }),
  'block.created': z.object({ blockerId: id, blockedId: id, createdAt: time }),
  'block.removed': z.object({ blockerId: id, blockedId: id }),
  'mute.created': z.object({ muterId: id, mutedId: id, createdAt: time }),
  'mute.removed': z.object({ muterId: id, mutedId: id }),
  'profile.updated': z.object({
    userId: id,
    displayName: z.string(),
    bio: z.string().nullable(),
    avatarUrl: z.string().nullable(),
    privacyLevel: z.enum(['public', 'followers', 'private']),
    version: z.number().int().positive(),
    updatedAt: time,
  }),
  'user.deleted': z.object({
    userId: id,
    deletedAt: time,
    postIds: z.array(id),
    reactions: z.array(z.object({ postId: id, type: reactionType })),
    followerIds: z.array(id),
    followeeIds: z.array(id),
  }),
};

export class BadEventError extends Error {
  override name = 'BadEventError';
}

export const isKnownEventType = (t: string): t is EventType => Object.hasOwn(schemas, t);

/** The payload, typed, or a BadEventError naming what is wrong. */
export function parsePayload<E extends EventType>(type: E, payload: unknown): EventPayloads[E] {
  const r = schemas[type].safeParse(payload);
  if (!r.success) {
    const what = r.error.issues
      .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
      .join('; ');
    throw new BadEventError(`bad ${type} payload: ${what}`);
  }
  return r.data as EventPayloads[E];
}
