import { z } from 'zod';
import { reactionType } from '../domain/schemas.ts';
import { postStatus, privacyLevel, REACTION_TYPES, userRole } from '../events/vocabulary.ts';

/** Response schemas: they serialize every reply and document it in OpenAPI. */
export const timestamp = z.string().describe('ISO 8601 UTC timestamp');

export const errorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .describe('Every error has this shape');

export const listOf = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    cursor: z.string().nullable().describe('pass back for the next page; null at the end'),
  });

export const reactionCounts = z.object(
  Object.fromEntries(REACTION_TYPES.map((t) => [t, z.number().int()])) as Record<
    (typeof REACTION_TYPES)[number],
    z.ZodNumber
  >,
);

export const post = z.object({
  id: z.string(),
  authorId: z.string(),
  text: z.string(),
  tags: z.array(z.string()),
  status: postStatus,
  createdAt: timestamp,
  updatedAt: timestamp,
  counts: reactionCounts,
});

export const profile = z.object({
  userId: z.string(),
  displayName: z.string(),
  bio: z.string().nullable(),
  avatarUrl: z.string().nullable(),
  privacyLevel,
  counts: z.object({
    followers: z.number().int(),
    following: z.number().int(),
    posts: z.number().int(),
  }),
});

export const authUser = z.object({ id: z.string(), email: z.string() });
export const authResult = z.object({ user: authUser, accessToken: z.string() });

export const me = z.object({
  user: z.object({
    id: z.string(),
    email: z.string(),
    role: userRole,
    createdAt: timestamp,
  }),
  profile,
});

export const followEntry = z.object({
  userId: z.string(),
  displayName: z.string().nullable(),
  followedAt: timestamp,
});
export const reaction = z.object({ userId: z.string(), type: reactionType, createdAt: timestamp });

export const notification = z.object({
  id: z.string(),
  type: z.enum(['follow', 'reaction']),
  actorId: z.string(),
  subjectId: z.string(),
  read: z.boolean(),
  createdAt: timestamp,
});

export const moderationCase = z.object({
  id: z.string(),
  reporterId: z.string().nullable(),
  contentType: z.enum(['post', 'profile']),
  contentId: z.string(),
  reason: z.string(),
  status: z.enum(['open', 'under_review', 'actioned', 'dismissed']),
  decision: z.enum(['remove', 'keep']).nullable(),
  decidedBy: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
  resolvedAt: timestamp.nullable(),
});

export const appeal = z.object({
  id: z.string(),
  caseId: z.string(),
  appellantId: z.string(),
  reason: z.string(),
  status: z.enum(['pending', 'approved', 'rejected']),
  decidedBy: z.string().nullable(),
  decidedAt: timestamp.nullable(),
  createdAt: timestamp,
});

export const adminPost = post.omit({ counts: true });

export const accountExport = z
  .record(z.string(), z.unknown())
  .describe('everything canonical holds about the caller');

/** Shared error responses for OpenAPI and serialization. */
export const errors = (...codes: (400 | 401 | 403 | 404 | 409)[]) =>
  Object.fromEntries(codes.map((c) => [c, errorBody])) as Record<number, typeof errorBody>;

export const noContent = z.null().describe('No Content');

export const bearer = [{ bearerAuth: [] }];
