import { z } from 'zod';
import { privacyLevel, reactionType } from '../events/vocabulary.ts';

/**
 * Input schemas shared by the use cases and the HTTP API (which validates with them and
 * publishes them in OpenAPI). Limits mirror the canonical CHECK constraints.
 */
export const id = z.guid({ message: 'must be a UUID' });
export const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email({ message: 'must be an email address' }));
export const password = z.string().min(8, 'must be at least 8 characters').max(200);
export const displayName = z.string().trim().min(1).max(50);
export const bio = z.string().max(500);
export const avatarUrl = z.url().max(2048);
export { privacyLevel, reactionType };
export const postText = z.string().trim().min(1).max(5000);
export const tag = z.string().trim().min(1).max(50);
export const tags = z.array(tag).max(20);
export const reason = z.string().trim().min(1).max(1000);
export const cursor = z.string().max(2000);
export const limit = z.coerce.number().int().min(1).max(100).default(50);

export const registerInput = z.object({ email, password, displayName }).strict();
export const loginInput = z.object({ email, password: z.string().min(1).max(200) }).strict();
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
