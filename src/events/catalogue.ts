import { z } from 'zod';
import type { OutboxEvent } from '../outbox/event.ts';
import { postStatus, privacyLevel, reactionType } from './vocabulary.ts';

export type { PostStatus, PrivacyLevel, ReactionType } from './vocabulary.ts';
export { REACTION_TYPES } from './vocabulary.ts';

/**
 * The event catalogue: what canonical changes the projections need, as zod schemas (the
 * single source; the types are inferred). Emitted by domain/ inside the canonical
 * transaction, checked before a handler touches a store: a malformed event fails with a
 * message naming the field (retried, then dead-lettered) instead of writing a
 * half-formed document. Payloads are full snapshots where the projection is a copy, so
 * a replay or a late event can be applied idempotently with a version guard.
 */
const id = z.guid();
const time = z.string().min(1);

const postSnapshot = z.object({
  id,
  authorId: id,
  text: z.string(),
  tags: z.array(z.string()),
  status: postStatus,
  /** posts.version: increases on every change to the row. */
  version: z.number().int().positive(),
  createdAt: time,
  updatedAt: time,
  /** Set while the post is in cold storage (text then empty): in no projection. */
  archivedAt: time.optional(),
});
export type PostSnapshot = z.infer<typeof postSnapshot>;

const profileSnapshot = z.object({
  userId: id,
  displayName: z.string(),
  bio: z.string().nullable(),
  avatarUrl: z.string().nullable(),
  privacyLevel,
  version: z.number().int().positive(),
  updatedAt: time,
});
export type ProfileSnapshot = z.infer<typeof profileSnapshot>;

const schemas = {
  /** post.* carry the post as it is after the change. */
  'post.created': postSnapshot,
  'post.updated': postSnapshot,
  'post.deleted': postSnapshot,
  'post.moderated': postSnapshot,
  /** Moved to cold storage (archivedAt set) / brought back (full text again). */
  'post.archived': postSnapshot,
  'post.restored': postSnapshot,
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
  'profile.updated': profileSnapshot,
  /**
   * Account deletion. The canonical rows it removed go along, since they are gone by the
   * time the relay purges the projections that were built from them.
   */
  'user.deleted': z.object({
    userId: id,
    deletedAt: time,
    postIds: z.array(id),
    reactions: z.array(z.object({ postId: id, type: reactionType })),
    followerIds: z.array(id),
    followeeIds: z.array(id),
  }),
} as const;

export type EventPayloads = { [E in keyof typeof schemas]: z.infer<(typeof schemas)[E]> };
export type EventType = keyof EventPayloads;

/**
 * Aggregates order events: the relay applies one event per aggregate at a time, oldest
 * first. Relationship aggregates are keyed by the pair (see pairAggregateId).
 */
export type AggregateType = 'post' | 'reaction' | 'follow' | 'block' | 'mute' | 'profile' | 'user';

/** An outbox event of this catalogue (the outbox itself stores any type and payload). */
export type AppEvent<E extends EventType = EventType> = OutboxEvent<E, EventPayloads[E]> & {
  aggregateType: AggregateType;
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
