import { z } from 'zod';
import { privacyLevel, reactionType } from '../events/vocabulary.ts';

/**
 * Input schemas shared by the use cases and the HTTP API (which validates with them and
 * publishes them in OpenAPI). Limits mirror the canonical CHECK constraints.
 */
// UUIDs are case-insensitive, but ids are compared and stored as strings (event payloads,
// projection keys): an id in upper case is read as its one lower-case form.
export const id = z.guid({ message: 'must be a UUID' }).toLowerCase();

// Text hygiene, applied to every string an input carries. PostgreSQL text cannot hold NUL,
// and a lone UTF-16 surrogate would be stored as U+FFFD: both are refused as input instead.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// In names: control characters, and invisible or direction-changing format characters
// (zero-width spaces, bidi overrides and isolates, BOM, Hangul and braille blanks) that let
// one name impersonate another. U+200D (ZWJ) stays: emoji sequences need it.
const NAME_FORBIDDEN =
  /[\p{Cc}\p{Zl}\p{Zp}\u00AD\u061C\u115F\u1160\u17B4\u17B5\u180E\u200B\u200C\u200E\u200F\u202A-\u202E\u2060-\u206F\u2800\u3164\uFEFF\uFFA0\uFFF9-\uFFFB]|\u034F/u;
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

/** A string without NUL bytes or lone surrogates: the base of every text input. */
export const text = () =>
  z
    .string()
    .refine((v) => !v.includes('\u0000'), 'must not contain NUL characters')
    .refine((v) => !LONE_SURROGATE.test(v), 'must be well-formed Unicode (no lone surrogates)');

/** A single-line label shown to others (display names, tags): no invisible or control characters. */
const label = (max: number) =>
  text()
    .trim()
    .min(1)
    .max(max)
    .refine(
      (v) => !NAME_FORBIDDEN.test(v),
      'must not contain invisible, control or bidirectional-override characters',
    )
    .refine((v) => VISIBLE.test(v), 'must contain a visible character');

export const email = text()
  .trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email({ message: 'must be an email address' }));
export const password = text().min(8, 'must be at least 8 characters').max(200);
export const displayName = label(50);
export const bio = text().max(500);
/** http(s) only: javascript:, data: and the like are refused. */
export const avatarUrl = text()
  .max(2048)
  .pipe(z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }));
export { privacyLevel, reactionType };
export const postText = text().trim().min(1).max(5000);
export const tag = label(50);
export const tags = z.array(tag).max(20);
export const reason = text().trim().min(1).max(1000);
export const cursor = text().max(2000);
export const limit = z.coerce.number().int().min(1).max(100).default(50);

export const registerInput = z.object({ email, password, displayName }).strict();
export const loginInput = z.object({ email, password: text().min(1).max(200) }).strict();
export const profilePatch = z
  .object({
    displayName: displayName.optional(),
    bio: bio.nullable().optional(),
    avatarUrl: avatarUrl.nullable().optional(),
    privacyLevel: privacyLevel.optional(),
  })
  .strict();
export const createPostInput = z.object({ text: postText, tags: tags.optional() }).strict();
export const editPostInput = z
  .object({
    text: postText.optional(),
    tags: tags.optional(),
    version: z.number().int().min(1).optional(),
  })
  .strict()
  .refine(
    (v) => v.text !== undefined || v.tags !== undefined,
    'nothing to change: give text or tags',
  );
export const reportInput = z
  .object({ contentType: z.enum(['post', 'profile']), contentId: id, reason })
  .strict();
export const appealInput = z.object({ caseId: id, reason }).strict();
export const caseDecisionInput = z
  .object({
    status: z.enum(['under_review']).optional(),
    decision: z.enum(['remove', 'keep']).optional(),
  })
  .strict()
  .refine((v) => v.status !== undefined || v.decision !== undefined, 'give a status or a decision');
export const appealDecisionInput = z.object({ status: z.enum(['approved', 'rejected']) }).strict();

export type RegisterInput = z.infer<typeof registerInput>;
export type LoginInput = z.infer<typeof loginInput>;
export type ProfilePatch = z.infer<typeof profilePatch>;
export type CreatePostInput = z.infer<typeof createPostInput>;
export type EditPostInput = z.infer<typeof editPostInput>;
export type ReportInput = z.infer<typeof reportInput>;
export type AppealInput = z.infer<typeof appealInput>;
export type CaseDecisionInput = z.infer<typeof caseDecisionInput>;
export type AppealDecisionInput = z.infer<typeof appealDecisionInput>;
