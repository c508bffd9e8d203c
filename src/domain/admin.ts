import { asUser, type Caller } from '../canonical/session.ts';
import {
  type Appeal,
  decideAppealRow,
  lockAppeal,
  presentAppeal,
} from '../canonical/tables/appeals.ts';
import { insertAuditEntry } from '../canonical/tables/audit-log.ts';
import {
  casesPage,
  lockCase,
  type ModerationCase,
  presentCase,
  setCaseStatus,
} from '../canonical/tables/moderation-cases.ts';
import { postSnapshot, setPostStatus as updatePostStatus } from '../canonical/tables/posts.ts';
import { type MirroredPost, searchMirror } from '../canonical/tables/posts-admin-mirror.ts';
import { iso } from '../canonical/time.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import type { PostSnapshot, PostStatus } from '../events/catalogue.ts';
import { emit } from '../events/emit.ts';
import type { Queryable } from '../sql/db.ts';
import type { DomainContext } from './context.ts';
import { decodeKeyset, encodeKeyset } from './cursor.ts';
import { writePostDoc } from './post-doc.ts';
import type { AppealDecisionInput, CaseDecisionInput } from './schemas.ts';

/** Runs fn as an admin or moderator (the asora_admin database role), else 403. */
function asModerator<T>(
  ctx: DomainContext,
  userId: string,
  fn: (tx: Queryable, c: Caller) => Promise<T>,
): Promise<T> {
  return asUser(ctx.db, userId, async (tx, caller) => {
    if (caller.role !== 'admin' && caller.role !== 'moderator') {
      throw new ForbiddenError('admins and moderators only');
    }
    return fn(tx, caller);
  });
}

/** Sets a post's moderation status and emits post.moderated; undefined when already there or gone. */
async function setPostStatus(tx: Queryable, postId: string, from: PostStatus, to: PostStatus) {
  const row = await updatePostStatus(tx, postId, from, to);
  if (!row) return undefined;
  const s = postSnapshot(row);
  await emit(tx, { type: 'post', id: postId }, 'post.moderated', s);
  return s;
}

/** GET /v1/admin/cases?status=: newest first, keyset-paged. */
export async function listCases(
  ctx: DomainContext,
  userId: string,
  q: { status?: ModerationCase['status']; limit: number; cursor?: string },
): Promise<{ items: ModerationCase[]; cursor: string | null }> {
  const after = decodeKeyset(q.cursor);
  return asModerator(ctx, userId, async (tx) => {
    const rows = await casesPage(tx, q.status, after, q.limit + 1);
    const items = rows.slice(0, q.limit);
    const last = items.at(-1);
    return {
      items: items.map(presentCase),
      cursor:
        rows.length > q.limit && last
          ? encodeKeyset({ t: iso(last.created_at), id: last.id })
          : null,
    };
  });
}

/** PATCH /v1/admin/cases/:id: review, or decide (remove → the post is removed; keep → dismissed). */
export async function decideCase(
  ctx: DomainContext,
  userId: string,
  caseId: string,
  input: CaseDecisionInput,
): Promise<ModerationCase> {
  let moderated: PostSnapshot | undefined;
  const result = await asModerator(ctx, userId, async (tx) => {
    const current = await lockCase(tx, caseId);
    if (!current) throw new NotFoundError('moderation case not found');
    if (current.status === 'actioned' || current.status === 'dismissed') {
      throw new ConflictError(`the case is already ${current.status}`, 'case_closed');
    }
    const status =
      input.decision === 'remove'
        ? 'actioned'
        : input.decision === 'keep'
          ? 'dismissed'
          : input.status!;
    const updated = await setCaseStatus(
      tx,
      caseId,
      status,
      input.decision ?? null,
      input.decision ? userId : null,
    );
    if (input.decision === 'remove' && current.content_type === 'post') {
      moderated = await setPostStatus(tx, current.content_id, 'published', 'removed');
    }
    await insertAuditEntry(tx, {
      actorId: userId,
      action: `case.${input.decision ?? status}`,
      subjectType: 'moderation_case',
      subjectId: caseId,
      details: { contentType: current.content_type, contentId: current.content_id },
    });
    return presentCase(updated!);
  });
  if (moderated) await writePostDoc(ctx, moderated);
  return result;
}

/** PATCH /v1/admin/appeals/:id: approve (restores removed content) or reject. */
export async function decideAppeal(
  ctx: DomainContext,
  userId: string,
  appealId: string,
  input: AppealDecisionInput,
): Promise<Appeal> {
  let restored: PostSnapshot | undefined;
  const result = await asModerator(ctx, userId, async (tx) => {
    const current = await lockAppeal(tx, appealId);
    if (!current) throw new NotFoundError('appeal not found');
    if (current.status !== 'pending')
      throw new ConflictError(`the appeal is already ${current.status}`, 'appeal_closed');
    const updated = await decideAppealRow(tx, appealId, input.status, userId);
    if (input.status === 'approved') {
      // An approved appeal dismisses its case (decision keep) and restores a removed post.
      const c = await setCaseStatus(tx, current.case_id, 'dismissed', 'keep', userId);
      if (c?.content_type === 'post')
        restored = await setPostStatus(tx, c.content_id, 'removed', 'published');
    }
    await insertAuditEntry(tx, {
      actorId: userId,
      action: `appeal.${input.status}`,
      subjectType: 'appeal',
      subjectId: appealId,
      details: { caseId: current.case_id },
    });
    return presentAppeal(updated);
  });
  if (restored) await writePostDoc(ctx, restored);
  return result;
}

export type AdminPost = MirroredPost;

/** GET /v1/admin/posts/search?q=: full-text search on posts_admin_mirror. */
export async function searchPosts(
  ctx: DomainContext,
  userId: string,
  q: { q: string; limit: number },
): Promise<{ items: AdminPost[]; cursor: string | null }> {
  return asModerator(ctx, userId, async (tx) => {
    return { items: await searchMirror(tx, q.q, q.limit), cursor: null };
  });
}
