import { asUser } from '../canonical/session.ts';
import { iso, isoOrNull, NOW_MS } from '../canonical/time.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import type { DomainContext } from './context.ts';
import { FOREIGN_KEY_VIOLATION, sqlState, UNIQUE_VIOLATION } from './pg-errors.ts';
import type { AppealInput, ReportInput } from './schemas.ts';
import { userExists } from './users.ts';

export interface ModerationCase {
  id: string;
  reporterId: string | null;
  contentType: 'post' | 'profile';
  contentId: string;
  reason: string;
  status: 'open' | 'under_review' | 'actioned' | 'dismissed';
  decision: 'remove' | 'keep' | null;
  decidedBy: string | null;
  createdAt: string;
  updatedAt: string;
  resolvedAt: string | null;
}

export interface Appeal {
  id: string;
  caseId: string;
  appellantId: string;
  reason: string;
  status: 'pending' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: string | null;
  createdAt: string;
}

export interface CaseRow {
  id: string;
  reporter_id: string | null;
  content_type: ModerationCase['contentType'];
  content_id: string;
  reason: string;
  status: ModerationCase['status'];
  decision: ModerationCase['decision'];
  decided_by: string | null;
  created_at: unknown;
  updated_at: unknown;
  resolved_at: unknown;
}

export interface AppealRow {
  id: string;
  case_id: string;
  appellant_id: string;
  reason: string;
  status: Appeal['status'];
  decided_by: string | null;
  decided_at: unknown;
  created_at: unknown;
}

export const CASE_COLUMNS =
  'id, reporter_id, content_type, content_id, reason, status, decision, decided_by, created_at, updated_at, resolved_at';
export const APPEAL_COLUMNS =
  'id, case_id, appellant_id, reason, status, decided_by, decided_at, created_at';

export const presentCase = (r: CaseRow): ModerationCase => ({
  id: r.id,
  reporterId: r.reporter_id,
  contentType: r.content_type,
  contentId: r.content_id,
  reason: r.reason,
  status: r.status,
  decision: r.decision,
  decidedBy: r.decided_by,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  resolvedAt: isoOrNull(r.resolved_at),
});

export const presentAppeal = (r: AppealRow): Appeal => ({
  id: r.id,
  caseId: r.case_id,
  appellantId: r.appellant_id,
  reason: r.reason,
  status: r.status,
  decidedBy: r.decided_by,
  decidedAt: isoOrNull(r.decided_at),
  createdAt: iso(r.created_at),
});

/** POST /v1/reports: a moderation case about content the reporter can see. */
export async function report(
  ctx: DomainContext,
  userId: string,
  input: ReportInput,
): Promise<ModerationCase> {
  return asUser(ctx.db, userId, async (tx) => {
    const exists =
      input.contentType === 'post'
        ? (
            await tx.query(`SELECT 1 FROM posts WHERE id = $1 AND status <> 'deleted'`, [
              input.contentId,
            ])
          ).rows.length > 0
        : await userExists(tx, input.contentId);
    if (!exists) throw new NotFoundError(`${input.contentType} not found`);
    const { rows } = await tx.query<CaseRow>(
      `INSERT INTO moderation_cases (reporter_id, content_type, content_id, reason, created_at, updated_at)
       VALUES ($1, $2, $3, $4, ${NOW_MS}, ${NOW_MS}) RETURNING ${CASE_COLUMNS}`,
      [userId, input.contentType, input.contentId, input.reason],
    );
    return presentCase(rows[0]!);
  });
}

/** POST /v1/appeals: one appeal per case, by the owner of the moderated content. */
export async function appeal(
  ctx: DomainContext,
  userId: string,
  input: AppealInput,
): Promise<Appeal> {
  try {
    return await asUser(ctx.db, userId, async (tx) => {
      const { rows: target } = await tx.query<{ owner_id: string | null }>(
        'SELECT owner_id FROM appeal_target($1::uuid)',
        [input.caseId],
      );
      if (!target[0]) throw new NotFoundError('moderation case not found');
      if (target[0].owner_id !== userId) {
        throw new ForbiddenError('only the author of the moderated content can appeal');
      }
      const { rows } = await tx.query<AppealRow>(
        `INSERT INTO appeals (case_id, appellant_id, reason, created_at) VALUES ($1, $2, $3, ${NOW_MS})
         RETURNING ${APPEAL_COLUMNS}`,
        [input.caseId, userId, input.reason],
      );
      return presentAppeal(rows[0]!);
    });
  } catch (err) {
    if (sqlState(err) === FOREIGN_KEY_VIOLATION)
      throw new NotFoundError('moderation case not found');
    if (sqlState(err) === UNIQUE_VIOLATION)
      throw new ConflictError('you already appealed this case', 'appeal_exists');
    throw err;
  }
}

/** GET /v1/me/appeals. */
export async function myAppeals(ctx: DomainContext, userId: string): Promise<Appeal[]> {
  return asUser(ctx.db, userId, async (tx) => {
    const { rows } = await tx.query<AppealRow>(
      `SELECT ${APPEAL_COLUMNS} FROM appeals WHERE appellant_id = $1 ORDER BY created_at DESC, id DESC LIMIT 500`,
      [userId],
    );
    return rows.map(presentAppeal);
  });
}
