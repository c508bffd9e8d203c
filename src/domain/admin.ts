import { asUser, type Caller } from '../canonical/session.ts';
import { postSnapshot, setPostStatus as updatePostStatus } from '../canonical/tables/posts.ts';
import { type MirroredPost, searchMirror } from '../canonical/tables/posts-admin-mirror.ts';
import { iso, NOW_MS } from '../canonical/time.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import type { PostSnapshot, PostStatus } from '../events/catalogue.ts';
import { emit } from '../events/emit.ts';
import type { Queryable } from '../sql/db.ts';
import type { DomainContext } from './context.ts';
import { decodeKeyset, encodeKeyset } from './cursor.ts';
import {
  APPEAL_COLUMNS,
  type Appeal,
  type AppealRow,
  CASE_COLUMNS,
  type CaseRow,
  type ModerationCase,
  presentAppeal,
  presentCase,
} from './moderation.ts';
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

async function audit(
  tx: Queryable,
  actorId: string,
  action: string,
  subjectType: string,
  subjectId: string,
  details: object,
) {
  await tx.query(
    'INSERT INTO audit_log (actor_id, action, subject_type, subject_id, details) VALUES ($1, $2, $3, $4, $5::jsonb)',
    [actorId, action, subjectType, subjectId, JSON.stringify(details)],
  );
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
    const { rows } = await tx.query<CaseRow>(
      `SELECT ${CASE_COLUMNS} FROM moderation_cases
        WHERE ($1::text IS NULL OR status = $1)
          AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $4`,
      [q.status ?? null, after?.t ?? null, after?.id ?? null, q.limit + 1],
    );
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
    const { rows } = await tx.query<CaseRow>(
      `SELECT ${CASE_COLUMNS} FROM moderation_cases WHERE id = $1 FOR UPDATE`,
      [caseId],
    );
    const current = rows[0];
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
    const { rows: updated } = await tx.query<CaseRow>(
      `UPDATE moderation_cases SET status = $2, decision = $3, decided_by = $4, updated_at = ${NOW_MS},
              resolved_at = CASE WHEN $3::text IS NULL THEN NULL ELSE ${NOW_MS} END
        WHERE id = $1 RETURNING ${CASE_COLUMNS}`,
      [caseId, status, input.decision ?? null, input.decision ? userId : null],
    );
    if (input.decision === 'remove' && current.content_type === 'post') {
      moderated = await setPostStatus(tx, current.content_id, 'published', 'removed');
    }
    await audit(tx, userId, `case.${input.decision ?? status}`, 'moderation_case', caseId, {
      contentType: current.content_type,
      contentId: current.content_id,
    });
    return presentCase(updated[0]!);
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
    const { rows } = await tx.query<AppealRow>(
      `SELECT ${APPEAL_COLUMNS} FROM appeals WHERE id = $1 FOR UPDATE`,
      [appealId],
    );
    if (!rows[0]) throw new NotFoundError('appeal not found');
    if (rows[0].status !== 'pending')
      throw new ConflictError(`the appeal is already ${rows[0].status}`, 'appeal_closed');
    const { rows: updated } = await tx.query<AppealRow>(
      `UPDATE appeals SET status = $2, decided_by = $3, decided_at = ${NOW_MS} WHERE id = $1 RETURNING ${APPEAL_COLUMNS}`,
      [appealId, input.status, userId],
    );
    if (input.status === 'approved') {
      const { rows: cases } = await tx.query<CaseRow>(
        `UPDATE moderation_cases SET status = 'dismissed', decision = 'keep', decided_by = $2, updated_at = ${NOW_MS},
                resolved_at = ${NOW_MS}
          WHERE id = $1 RETURNING ${CASE_COLUMNS}`,
        [rows[0].case_id, userId],
      );
      const c = cases[0];
      if (c?.content_type === 'post')
        restored = await setPostStatus(tx, c.content_id, 'removed', 'published');
    }
    await audit(tx, userId, `appeal.${input.status}`, 'appeal', appealId, {
      caseId: rows[0].case_id,
    });
    return presentAppeal(updated[0]!);
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
