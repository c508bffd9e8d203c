/**
 * Shapes of the projection documents and their deterministic ids. Writers (pipeline/)
 * and readers (domain/) share these; projections/ never sees them.
 * `sourceVersion` is the canonical version a document reflects: writes only move forward.
 */
import type { PostStatus, PrivacyLevel, ReactionType } from '../events/catalogue.ts';

/** posts_v2, partition /postId. Soft-deleted (deleted + ttl) so the change feed sees removals. */
export interface PostDoc {
  [key: string]: unknown;
  id: string; // = postId
  postId: string;
  authorId: string;
  text: string;
  tags: string[];
  status: PostStatus;
  createdAt: string;
  updatedAt: string;
  sourceVersion: number;
  /**
   * Reaction counts ("post content with engagement metrics"), kept by the reaction pipeline:
   * recomputed from canonical under an etag guard, never incremented. Absent on a document
   * no reaction change has reached yet (readers then count from canonical).
   */
  counts?: ReactionCounts;
  deleted?: boolean;
  ttl?: number;
}

/** A post document everyone may see: published and not soft-deleted (what feeds and discovery show). */
export const isLivePost = (p: PostDoc): boolean => p.status === 'published' && p.deleted !== true;

export type ReactionCounts = Record<ReactionType, number>;

/** userFeed, partition /recipientId; a copy of the post so one query serves a feed page. */
export interface FeedItemDoc {
  [key: string]: unknown;
  id: string; // feedItemId(recipientId, postId)
  recipientId: string;
  postId: string;
  authorId: string;
  text: string;
  tags: string[];
  createdAt: string;
  updatedAt: string;
  sourceVersion: number;
}

/** reactions, partition /postId. */
export interface ReactionDoc {
  [key: string]: unknown;
  id: string; // reactionDocId(userId, type)
  postId: string;
  userId: string;
  type: ReactionType;
  createdAt: string;
  sourceVersion: number;
  deleted?: boolean;
  ttl?: number;
}

export type NotificationType = 'follow' | 'reaction';

/** notifications, partition /recipientId, 30-day container TTL. */
export interface NotificationDoc {
  [key: string]: unknown;
  id: string; // deterministic per cause, so replays do not duplicate
  recipientId: string;
  type: NotificationType;
  actorId: string;
  subjectId: string;
  read: boolean;
  createdAt: string;
}

/** counters, partition /subjectId, 90-day container TTL (missing = recompute on read). */
export interface CounterDoc {
  [key: string]: unknown;
  id: string; // counterId(subjectId, metric)
  subjectId: string;
  metric: CounterMetric;
  value: number;
  updatedAt: string;
}

/** publicProfiles, partition /userId (bio excluded from indexing). */
export interface PublicProfileDoc {
  [key: string]: unknown;
  id: string; // = userId
  userId: string;
  displayName: string;
  /** searchKey(displayName): what discovery's prefix search matches (indexed with privacyLevel). */
  displayNameKey?: string;
  bio: string | null;
  avatarUrl: string | null;
  privacyLevel: PrivacyLevel;
  sourceVersion: number;
  updatedAt: string;
  deleted?: boolean;
  ttl?: number;
}

/**
 * postTags, partition /tag: one document per (tag, post), so "posts with this tag, newest
 * first" is a partition-scoped page on (tag, createdAt DESC) on both stores (Cosmos cannot
 * put an array in a composite index, and the embedded store indexes scalar paths only).
 * `tag` is searchKey(tag). Readers check the post itself in posts_v2 (it may have been
 * edited, deleted or archived since).
 */
export interface PostTagDoc {
  [key: string]: unknown;
  id: string; // = postId
  tag: string;
  postId: string;
  authorId: string;
  createdAt: string;
  sourceVersion: number;
  deleted?: boolean;
  ttl?: number;
}

/** Counter names: the seed's `${postId}:likes` and `${userId}:followers` and their siblings. */
export const REACTION_METRIC = {
  like: 'likes',
  heart: 'hearts',
  laugh: 'laughs',
  wow: 'wows',
  sad: 'sads',
  angry: 'angries',
} as const satisfies Record<ReactionType, string>;

export type CounterMetric =
  | (typeof REACTION_METRIC)[ReactionType]
  | 'followers'
  | 'following'
  | 'posts';

export const feedItemId = (recipientId: string, postId: string) => `${recipientId}:${postId}`;
export const reactionDocId = (userId: string, type: ReactionType) => `${userId}:${type}`;
export const counterId = (subjectId: string, metric: CounterMetric) => `${subjectId}:${metric}`;

/** How long a soft-deleted document lingers so change-feed consumers can see the deletion. */
export const SOFT_DELETE_TTL_SECONDS = 24 * 60 * 60;

export const CONTAINERS = {
  posts: 'posts_v2',
  userFeed: 'userFeed',
  reactions: 'reactions',
  notifications: 'notifications',
  counters: 'counters',
  publicProfiles: 'publicProfiles',
  postTags: 'postTags',
  leases: 'leases',
} as const;
