import type { Queryable } from '../../sql/db.ts';
import { iso } from '../time.ts';

/** An audit_log entry as the archive stores it. */
export interface AuditEntry {
  id: string;
  actorId: string | null;
  action: string;
  subjectType: string;
  subjectId: string | null;
  details: unknown;
  createdAt: string;
}

/** The oldest entries created before `before`. */
export async function auditEntriesBefore(
  tx: Queryable,
  before: string,
  limit: number,
): Promise<AuditEntry[]> {
  const { rows } = await tx.query<{
    id: string;
    actor_id: string | null;
    action: string;
    subject_type: string;
    subject_id: string | null;
    details: unknown;
    created_at: unknown;
  }>(
    `SELECT id, actor_id, action, subject_type, subject_id, details, created_at FROM audit_log
      WHERE created_at < $1 ORDER BY created_at, id LIMIT $2`,
    [before, limit],
  );
  return rows.map((x) => ({
    id: x.id,
    actorId: x.actor_id,
    action: x.action,
    subjectType: x.subject_type,
    subjectId: x.subject_id,
    details: x.details,
    createdAt: iso(x.created_at),
  }));
}

export async function deleteAuditEntries(tx: Queryable, ids: string[]): Promise<number> {
  const { rowCount } = await tx.query('DELETE FROM audit_log WHERE id = ANY($1::uuid[])', [ids]);
  return rowCount;
}

/** Records who did what to which subject (details as JSON, when any). */
export async function insertAuditEntry(
  tx: Queryable,
  e: {
    actorId: string | null;
    action: string;
    subjectType: string;
    subjectId: string;
    details?: unknown;
  },
): Promise<void> {
  await tx.query(
    `INSERT INTO audit_log (actor_id, action, subject_type, subject_id, details)
     VALUES ($1, $2, $3, $4, COALESCE($5::jsonb, '{}'))`,
    [
      e.actorId,
      e.action,
      e.subjectType,
      e.subjectId,
      e.details === undefined ? null : JSON.stringify(e.details),
    ],
  );
}
