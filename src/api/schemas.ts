import { z } from 'zod';
import {
  appealDecisionInput,
  appealInput,
  avatarUrl,
  bio,
  caseDecisionInput,
  createPostInput,
  cursor,
  displayName,
  editPostInput,
  email,
  id,
  limit,
  loginInput,
  password,
  postText,
  profilePatch,
  reactionType,
  reason,
  registerInput,
  reportInput,
  tag,
  tags,
} from '../domain/schemas.ts';
import { postStatus, privacyLevel, REACTION_TYPES, userRole } from '../events/vocabulary.ts';

/** Response schemas: they serialize every reply and document it in OpenAPI. */
export const timestamp = z.string().describe('ISO 8601 UTC timestamp');

export const errorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z
        .array(z.object({ path: z.string(), message: z.string() }))
        .optional()
        .describe('what was wrong, field by field (present when there is something to add)'),
    }),
  })
  .describe('Every error has this shape');

const lists = new WeakMap<z.ZodType, z.ZodType>();
/** `{items, cursor}` of a named item schema; one schema (and component `<Item>List`) per item. */
export const listOf = <T extends z.ZodType>(item: T) => {
  const known = lists.get(item);
  if (known) return known as ReturnType<typeof list<T>>;
  const made = list(item);
  const name = z.globalRegistry.get(item)?.id;
  if (name) z.globalRegistry.add(made, { id: `${name}List` });
  lists.set(item, made);
  return made;
};
const list = <T extends z.ZodType>(item: T) =>
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

/** A profile as discovery lists it: public profiles only, no counts. */
export const profileSummary = profile.pick({
  userId: true,
  displayName: true,
  bio: true,
  avatarUrl: true,
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

const componentReport = z.object({
  status: z.enum(['up', 'down', 'not_configured']),
  latencyMs: z.number(),
  error: z.string().optional().describe('why it is down'),
  detail: z.record(z.string(), z.unknown()).optional(),
});
export const healthReport = z
  .object({
    status: z.enum(['ok', 'fail']),
    checkedAt: timestamp,
    components: z.record(z.string(), componentReport),
  })
  .describe('Readiness: every component and its state (503 when any is down)');
export const liveness = z.object({ status: z.literal('ok'), uptimeSeconds: z.number().int() });

/**
 * Route-specific error responses for OpenAPI and serialization (413/415 where a body can be
 * sent and 429/503 for every /v1 route are added by src/api/contract.ts).
 */
export const errors = (...codes: (400 | 401 | 403 | 404 | 409 | 422 | 429 | 503)[]) =>
  Object.fromEntries(codes.map((c) => [c, errorBody])) as Record<number, typeof errorBody>;

/** A reply without a body (204): OpenAPI declares no content for it. */
export const noContent = z.undefined().describe('No Content');

export const bearer = [{ bearerAuth: [] }];

/** Gives a schema a component name and examples in the OpenAPI document (keeps its other metadata). */
function named(schema: z.ZodType, meta: { id?: string; examples?: unknown[] }): void {
  z.globalRegistry.add(schema, { ...z.globalRegistry.get(schema), ...meta });
}

const POST_ID = '0190b5a8-4a4e-7c1e-9b51-3d2f8f0e4c11';
const USER_ID = '0190b5a8-2d1c-7a3b-8f44-6b9e1c2d3a10';

// Response components (zod names input variants `<id>Input`, so input ids differ from these).
for (const [schema, name] of [
  [errorBody, 'Error'],
  [reactionCounts, 'ReactionCounts'],
  [post, 'Post'],
  [profile, 'Profile'],
  [authUser, 'AuthUser'],
  [authResult, 'AuthResult'],
  [me, 'Me'],
  [followEntry, 'FollowEntry'],
  [reaction, 'Reaction'],
  [notification, 'Notification'],
  [moderationCase, 'ModerationCase'],
  [appeal, 'Appeal'],
  [adminPost, 'AdminPost'],
  [accountExport, 'AccountExport'],
  [healthReport, 'HealthReport'],
  [liveness, 'Liveness'],
] as const) {
  named(schema, { id: name });
}

// Request bodies and parameters: a component each, with examples (Dredd builds requests from them).
named(registerInput, {
  id: 'Register',
  examples: [{ email: 'alice@example.com', password: 'correct horse', displayName: 'Alice' }],
});
named(loginInput, {
  id: 'Login',
  examples: [{ email: 'alice@example.com', password: 'correct horse' }],
});
named(profilePatch, {
  id: 'ProfilePatch',
  examples: [{ displayName: 'Alice A.', bio: 'I post things', privacyLevel: 'public' }],
});
named(createPostInput, {
  id: 'NewPost',
  examples: [{ text: 'Hello, Asora!', tags: ['intro'] }],
});
named(editPostInput, { id: 'PostEdit', examples: [{ text: 'Hello again', version: 1 }] });
named(reportInput, {
  id: 'NewReport',
  examples: [{ contentType: 'post', contentId: POST_ID, reason: 'spam' }],
});
named(appealInput, {
  id: 'NewAppeal',
  examples: [{ caseId: '0190b5a8-6e7f-7d20-a1b2-c3d4e5f60718', reason: 'it was satire' }],
});
named(caseDecisionInput, { id: 'CaseDecision', examples: [{ decision: 'remove' }] });
named(appealDecisionInput, { id: 'AppealDecision', examples: [{ status: 'approved' }] });
named(id, { examples: [USER_ID] });
named(limit, { examples: [20] });
named(cursor, { examples: ['eyJ0IjoiMjAyNi0xMS0yNVQwMjo0Nzo0OC44NTRaIn0'] });
named(reactionType, { examples: ['like'] });
named(email, { examples: ['alice@example.com'] });
named(password, { examples: ['correct horse'] });
named(displayName, { examples: ['Alice'] });
named(bio, { examples: ['I post things'] });
named(avatarUrl, { examples: ['https://example.com/alice.png'] });
named(postText, { examples: ['Hello, Asora!'] });
named(tags, { examples: [['intro']] });
named(tag, { examples: ['intro'] });
named(reason, { examples: ['spam'] });

/** Optional on POSTs that create something: a retry with the same key replays the first answer. */
export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters')
    .optional()
    .meta({
      description:
        'Makes the request safe to retry: the same key with the same body returns the first response (kept 24 h) and creates nothing; with a different body, 422 idempotency_key_reused',
      examples: ['0190b5a8-9c3d-7e21-8f00-1a2b3c4d5e6f'],
    }),
});
