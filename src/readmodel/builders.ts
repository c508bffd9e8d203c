/**
 * The read-model documents canonical data implies, built in one place for every writer:
 * the domain's direct writes, the relay's handlers, fan-out, feed rebuilds and reconcile.
 */
import {
  type PostSnapshot,
  type ProfileSnapshot,
  REACTION_TYPES,
  type ReactionType,
} from '../events/catalogue.ts';
import {
  type CounterDoc,
  type CounterMetric,
  counterId,
  type FeedItemDoc,
  feedItemId,
  type NotificationDoc,
  type PostDoc,
  type PostTagDoc,
  type PublicProfileDoc,
  type ReactionCounts,
  type ReactionDoc,
  reactionDocId,
  SOFT_DELETE_TTL_SECONDS,
} from './documents.ts';
import { searchKey } from './search-key.ts';

/**
 * Version of the tombstones an account deletion writes: above any canonical version
 * (those are PostgreSQL integers), so a late event for a deleted account's post, profile
 * or reaction is stale and cannot bring the document back.
 */
export const TOMBSTONE_VERSION = 2_147_483_647;

/** The fields that turn a document into an account-deletion tombstone (a soft delete). */
export const TOMBSTONE = {
  deleted: true,
  ttl: SOFT_DELETE_TTL_SECONDS,
  sourceVersion: TOMBSTONE_VERSION,
} as const;

/** A post that belongs in posts_v2, feeds and discovery: published and not archived. */
export const isHot = (p: PostSnapshot): boolean => p.status === 'published' && !p.archivedAt;

/** The posts_v2 document for a post snapshot: anything not hot is a soft delete. */
export function postDoc(p: PostSnapshot): PostDoc {
  const doc: PostDoc = {
    id: p.id,
    postId: p.id,
    authorId: p.authorId,
    text: p.text,
    tags: p.tags,
    status: p.status,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    sourceVersion: p.version,
  };
  // Soft delete (not a delete) so the posts_v2 change feed sees the removal and fan-out
  // takes the post out of every feed.
  if (!isHot(p)) Object.assign(doc, { deleted: true, ttl: SOFT_DELETE_TTL_SECONDS });
  return doc;
}

/** A deleted account's post: status deleted, above any canonical version. */
export const postTombstone = (
  p: Pick<PostDoc, 'postId' | 'authorId' | 'text' | 'tags' | 'createdAt'>,
  deletedAt: string,
): PostDoc => ({
  id: p.postId,
  postId: p.postId,
  authorId: p.authorId,
  text: p.text,
  tags: p.tags,
  createdAt: p.createdAt,
  updatedAt: deletedAt,
  status: 'deleted',
  ...TOMBSTONE,
});

/** The post's tags as discovery matches them: search keys, once each. */
export const tagKeys = (tags: string[]): string[] =>
  [...new Set(tags.map(searchKey))].filter((t) => t.length > 0);

/** One postTags document per tag; soft-deleted (so they expire) when the post is not hot. */
export const postTagDocs = (p: PostSnapshot): PostTagDoc[] =>
  tagKeys(p.tags).map((tag) => ({
    id: p.id,
    tag,
    postId: p.id,
    authorId: p.authorId,
    createdAt: p.createdAt,
    sourceVersion: p.version,
    ...(isHot(p) ? {} : { deleted: true, ttl: SOFT_DELETE_TTL_SECONDS }),
  }));

/** A post as it sits in one recipient's feed (a copy: one query serves a feed page). */
export function feedItemFor(recipientId: string, post: PostDoc): FeedItemDoc {
  return {
    id: feedItemId(recipientId, post.postId),
    recipientId,
    postId: post.postId,
    authorId: post.authorId,
    text: post.text,
    tags: post.tags,
    createdAt: post.createdAt,
    updatedAt: post.updatedAt,
    sourceVersion: post.sourceVersion,
  };
}

/** The publicProfiles document for a profile snapshot (with its discovery search key). */
export const profileDoc = (s: ProfileSnapshot): PublicProfileDoc => ({
  id: s.userId,
  userId: s.userId,
  displayName: s.displayName,
  displayNameKey: searchKey(s.displayName),
  bio: s.bio,
  avatarUrl: s.avatarUrl,
  privacyLevel: s.privacyLevel,
  sourceVersion: s.version,
  updatedAt: s.updatedAt,
});

/** A deleted account's publicProfiles document: emptied, private, above any canonical version. */
export const profileTombstone = (userId: string, deletedAt: string): PublicProfileDoc => ({
  id: userId,
  userId,
  displayName: '',
  bio: null,
  avatarUrl: null,
  privacyLevel: 'private',
  updatedAt: deletedAt,
  ...TOMBSTONE,
});

/** Counts of a post no one reacted to. */
export const zeroCounts = (): ReactionCounts =>
  Object.fromEntries(REACTION_TYPES.map((t) => [t, 0])) as ReactionCounts;

/** The reactions document of one reaction at an aggregate version (removed = a soft delete). */
export function reactionDoc(
  r: { postId: string; userId: string; type: ReactionType; createdAt: string },
  version: number,
  removed = false,
): ReactionDoc {
  const doc: ReactionDoc = {
    id: reactionDocId(r.userId, r.type),
    postId: r.postId,
    userId: r.userId,
    type: r.type,
    createdAt: r.createdAt,
    sourceVersion: version,
  };
  if (removed) Object.assign(doc, { deleted: true, ttl: SOFT_DELETE_TTL_SECONDS });
  return doc;
}

/** Notification id of a follow: one per follow event, so a replay finds it instead of adding another. */
export const followNotificationId = (followerId: string, aggregateVersion: number) =>
  `follow:${followerId}:${aggregateVersion}`;

/** The 'follow' notification a follow event (at its aggregate version) sends the followee. */
export const followNotification = (
  f: { followerId: string; followeeId: string; createdAt: string },
  aggregateVersion: number,
): NotificationDoc => ({
  id: followNotificationId(f.followerId, aggregateVersion),
  recipientId: f.followeeId,
  type: 'follow',
  actorId: f.followerId,
  subjectId: f.followerId,
  read: false,
  createdAt: f.createdAt,
});

/** One notification per (post, reactor, type): a redelivered change finds it and adds nothing. */
export const reactionNotificationId = (r: Pick<ReactionDoc, 'postId' | 'userId' | 'type'>) =>
  `reaction:${r.postId}:${r.userId}:${r.type}`;

/** The 'reaction' notification a reaction sends the post's author. */
export const reactionNotification = (
  r: Pick<ReactionDoc, 'postId' | 'userId' | 'type' | 'createdAt'>,
  authorId: string,
): NotificationDoc => ({
  id: reactionNotificationId(r),
  recipientId: authorId,
  type: 'reaction',
  actorId: r.userId,
  subjectId: r.postId,
  read: false,
  createdAt: r.createdAt,
});

/** A counter document holding a canonical count. */
export const counterDoc = (
  subjectId: string,
  metric: CounterMetric,
  value: number,
): CounterDoc => ({
  id: counterId(subjectId, metric),
  subjectId,
  metric,
  value,
  updatedAt: new Date().toISOString(),
});
