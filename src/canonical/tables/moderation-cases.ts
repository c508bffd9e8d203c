import type { Queryable } from '../../sql/db.ts';
import { iso, isoOrNull, NOW_MS } from '../time.ts';

/** The moderation_cases table: its row, columns, row → case mapping and every query on it. */
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

const CASE_COLUMNS =
  'id, reporter_id, content_type, content_id, reason, status, decision, decided_by, created_at, updated_at, resolved_at';

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

export async function insertCase(
  tx: Queryable,
  reporterId: string,
  c: { contentType: ModerationCase['contentType']; contentId: string; reason: string },
): Promise<CaseRow> {
  const { rows } = await tx.query<CaseRow>(
    `INSERT INTO moderation_cases (reporter_id, content_type, content_id, reason, created_at, updated_at)
     VALUES ($1, $2, $3, $4, ${NOW_MS}, ${NOW_MS}) RETURNING ${CASE_COLUMNS}`,
    [reporterId, c.contentType, c.contentId, c.reason],
  );
  return rows[0]!;
}

/** Cases (of one status, when given) newest first, after a (createdAt, id) keyset. */
export async function casesPage(
  tx: Queryable,
  status: ModerationCase['status'] | undefined,
  after: { t: string; id: string } | undefined,
  limit: number,
): Promise<CaseRow[]> {
  const { rows } = await tx.query<CaseRow>(
    `SELECT ${CASE_COLUMNS} FROM moderation_cases
      WHERE ($1::text IS NULL OR status = $1)
        AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
      ORDER BY created_at DESC, id DESC LIMIT $4`,
    [status ?? null, after?.t ?? null, after?.id ?? null, limit],
  );
  return rows;
}

/** A case locked for a decision (FOR UPDATE), or undefined. */
export async function lockCase(tx: Queryable, caseId: string): Promise<CaseRow | undefined> {
  const { rows } = await tx.query<CaseRow>(
    `SELECT ${CASE_COLUMNS} FROM moderation_cases WHERE id = $1 FOR UPDATE`,
    [caseId],
  );
  return rows[0];
}

/** A new status (and decision, which resolves the case) by a moderator. */
export async function setCaseStatus(
  tx: Queryable,
  caseId: string,
  status: ModerationCase['status'],
  decision: ModerationCase['decision'],
  decidedBy: string | null,
): Promise<CaseRow | undefined> {
  const { rows } = await tx.query<CaseRow>(
    `UPDATE moderation_cases SET status = $2, decision = $3, decided_by = $4, updated_at = ${NOW_MS},
            resolved_at = CASE WHEN $3::text IS NULL THEN NULL ELSE ${NOW_MS} END
      WHERE id = $1 RETURNING ${CASE_COLUMNS}`,
    [caseId, status, decision, decidedBy],
  );
  return rows[0];
}

/** Every case a user reported, oldest first (the account export). */
export async function casesReportedBy(tx: Queryable, userId: string): Promise<CaseRow[]> {
  const { rows } = await tx.query<CaseRow>(
    `SELECT ${CASE_COLUMNS} FROM moderation_cases WHERE reporter_id = $1 ORDER BY created_at`,
    [userId],
  );
  return rows;
}
