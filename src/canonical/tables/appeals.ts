import type { Queryable } from '../../sql/db.ts';
import { iso, isoOrNull, NOW_MS } from '../time.ts';

/** The appeals table: its row, columns, row → appeal mapping and every query on it. */
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

const APPEAL_COLUMNS =
  'id, case_id, appellant_id, reason, status, decided_by, decided_at, created_at';

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

/**
 * The case an appeal would be about: undefined when the caller cannot see it, else the
 * owner of the moderated content (appeal_target, a definer function, 0004).
 */
export async function appealTarget(
  tx: Queryable,
  caseId: string,
): Promise<{ ownerId: string | null } | undefined> {
  const { rows } = await tx.query<{ owner_id: string | null }>(
    'SELECT owner_id FROM appeal_target($1::uuid)',
    [caseId],
  );
  return rows[0] && { ownerId: rows[0].owner_id };
}

export async function insertAppeal(
  tx: Queryable,
  caseId: string,
  appellantId: string,
  reason: string,
): Promise<AppealRow> {
  const { rows } = await tx.query<AppealRow>(
    `INSERT INTO appeals (case_id, appellant_id, reason, created_at) VALUES ($1, $2, $3, ${NOW_MS})
     RETURNING ${APPEAL_COLUMNS}`,
    [caseId, appellantId, reason],
  );
  return rows[0]!;
}

/** An appeal locked for a decision (FOR UPDATE), or undefined. */
export async function lockAppeal(tx: Queryable, appealId: string): Promise<AppealRow | undefined> {
  const { rows } = await tx.query<AppealRow>(
    `SELECT ${APPEAL_COLUMNS} FROM appeals WHERE id = $1 FOR UPDATE`,
    [appealId],
  );
  return rows[0];
}

export async function decideAppealRow(
  tx: Queryable,
  appealId: string,
  status: Appeal['status'],
  decidedBy: string,
): Promise<AppealRow> {
  const { rows } = await tx.query<AppealRow>(
    `UPDATE appeals SET status = $2, decided_by = $3, decided_at = ${NOW_MS} WHERE id = $1 RETURNING ${APPEAL_COLUMNS}`,
    [appealId, status, decidedBy],
  );
  return rows[0]!;
}

/** A user's appeals: newest first (at most `limit`), or oldest first for the account export. */
export async function appealsBy(
  tx: Queryable,
  userId: string,
  order: { newestFirst: true; limit: number } | { newestFirst: false },
): Promise<AppealRow[]> {
  const { rows } = await tx.query<AppealRow>(
    order.newestFirst
      ? `SELECT ${APPEAL_COLUMNS} FROM appeals WHERE appellant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`
      : `SELECT ${APPEAL_COLUMNS} FROM appeals WHERE appellant_id = $1 ORDER BY created_at`,
    order.newestFirst ? [userId, order.limit] : [userId],
  );
  return rows;
}
