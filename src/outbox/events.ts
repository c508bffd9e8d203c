/**
 * The outbox events: what canonical changes the projections need. Emitted by domain/
 * inside the canonical transaction (emit.ts), applied by the relay's handlers.
 * Payloads are full snapshots where the projection is a copy, so a replay or a late
 * event can be applied idempotently with a version guard.
 */

export type ReactionType = 'like' | 'heart' | 'laugh' | 'wow' | 'sad' | 'angry';
export const REACTION_TYPES: readonly ReactionType[] = [
  'like',
  'heart',
  'laugh',
  'wow',
  'sad',
  'angry',
];

export type PostStatus = 'published' | 'hidden' | 'removed' | 'deleted';
export type PrivacyLevel = 'public' | 'followers' | 'private';

export interface PostSnapshot {
  id: string;
  authorId: string;
  text: string;
  tags: string[];
  status: PostStatus;
  /** posts.version: increases on every change to the row. */
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface ProfileSnapshot {
  userId: string;
  displayName: string;
  bio: string | null;
  avatarUrl: string | null;
  privacyLevel: PrivacyLevel;
  version: number;
  updatedAt: string;
}

export interface EventPayloads {
  /** post.* carry the post as it is after the change. */
  'post.created': PostSnapshot;
  'post.updated': PostSnapshot;
  'post.deleted': PostSnapshot;
  'post.moderated': PostSnapshot;
  'reaction.added': {
    postId: string;
    postAuthorId: string;
    userId: string;
    type: ReactionType;
    createdAt: string;
  };
  'reaction.removed': { postId: string; postAuthorId: string; userId: string; type: ReactionType };
  'follow.created': { followerId: string; followeeId: string; createdAt: string };
  'follow.removed': { followerId: string; followeeId: string };
  'block.created': { blockerId: string; blockedId: string; createdAt: string };
  'block.removed': { blockerId: string; blockedId: string };
  'mute.created': { muterId: string; mutedId: string; createdAt: string };
  'mute.removed': { muterId: string; mutedId: string };
  'profile.updated': ProfileSnapshot;
  /**
   * Account deletion. The canonical rows it removed go along, since they are gone by the
   * time the relay purges the projections that were built from them.
   */
  'user.deleted': {
    userId: string;
    deletedAt: string;
    postIds: string[];
    reactions: { postId: string; type: ReactionType }[];
    followerIds: string[];
    followeeIds: string[];
  };
}

export type EventType = keyof EventPayloads;

/**
 * Aggregates order events: the relay applies one event per aggregate at a time, oldest
 * first. Relationship aggregates are keyed by the pair (see aggregateKeys).
 */
export type AggregateType = 'post' | 'reaction' | 'follow' | 'block' | 'mute' | 'profile' | 'user';

export interface OutboxEvent<E extends EventType = EventType> {
  id: number;
  aggregateType: AggregateType;
  aggregateId: string;
  aggregateVersion: number;
  eventType: E;
  payload: EventPayloads[E];
  createdAt: Date;
  retryCount: number;
}
