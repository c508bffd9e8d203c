import { asWorker } from '../canonical/session.ts';
import { iso } from '../canonical/time.ts';
import { byMonth } from './format.ts';
import { type ArchiveDeps, type ArchiveReport, recordFile, writeBatch } from './posts.ts';

interface AuditRow {
  id: string;
  actor_id: string | null;
  action: string;
  subject_type: string;
  subject_id: string | null;
  details: unknown;
  created_at: unknown;
}

/**
 * `asora archive audit --older-than …`: moves audit_log rows created before `before` to
 * cold storage (month-partitioned, gzip, manifest and checksum), then deletes them in the
 * transaction that records the file. A crash between the two leaves the rows in place,
 * and the re-run writes the same file again (its name is a hash of the ids).
 */
export async function archiveAudit(
  deps: ArchiveDeps,
  opts: { before: Date; batchSize?: number; maxBatches?: number },
): Promise<ArchiveReport> {
  const batchSize = opts.batchSize ?? 5_000;
  const report: ArchiveReport = { files: [], items: 0 };
  for (let n = 0; opts.maxBatches === undefined || n < opts.maxBatches; n++) {
    const rows = await asWorker(deps.db, async (tx) => {
      const r = await tx.query<AuditRow>(
        `SELECT id, actor_id, action, subject_type, subject_id, details, created_at FROM audit_log
          WHERE created_at < $1 ORDER BY created_at, id LIMIT $2`,
        [opts.before.toISOString(), batchSize],
      );
      return r.rows.map((x) => ({
        id: x.id,
        actorId: x.actor_id,
        action: x.action,
        subjectType: x.subject_type,
        subjectId: x.subject_id,
        details: x.details,
        createdAt: iso(x.created_at),
      }));
    });
    if (rows.length === 0) break;
    for (const [month, entries] of byMonth(rows, (r) => r.createdAt)) {
      const ids = entries.map((e) => e.id);
      const file = await writeBatch(deps.objects, 'audit', month, ids, entries, {
        from: entries[0]!.createdAt,
        to: entries.at(-1)!.createdAt,
      });
      report.items += await asWorker(deps.db, async (tx) => {
        await recordFile(tx, file);
        const { rowCount } = await tx.query('DELETE FROM audit_log WHERE id = ANY($1::uuid[])', [
          ids,
        ]);
        return rowCount;
      });
      report.files.push(file.key);
    }
  }
  return report;
}
