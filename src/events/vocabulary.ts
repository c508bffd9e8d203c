import { z } from 'zod';

/**
 * The domain's closed sets, defined once: the API, the use cases, the event catalogue
 * and the canonical CHECK constraints all name these values.
 */
export const POST_STATUSES = ['published', 'hidden', 'removed', 'deleted'] as const;
export const postStatus = z.enum(POST_STATUSES);
export type PostStatus = z.infer<typeof postStatus>;

export const PRIVACY_LEVELS = ['public', 'followers', 'private'] as const;
export const privacyLevel = z.enum(PRIVACY_LEVELS);
export type PrivacyLevel = z.infer<typeof privacyLevel>;

export const REACTION_TYPES = ['like', 'heart', 'laugh', 'wow', 'sad', 'angry'] as const;
export const reactionType = z.enum(REACTION_TYPES);
export type ReactionType = z.infer<typeof reactionType>;

export const USER_ROLES = ['user', 'moderator', 'admin'] as const;
export const userRole = z.enum(USER_ROLES);
export type UserRole = z.infer<typeof userRole>;
