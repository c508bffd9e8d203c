import { asWorker } from '../canonical/session.ts';
import { recordArchiveFile } from '../canonical/tables/archive-files.ts';
import { auditEntriesBefore, deleteAuditEntries } from '../canonical/tables/audit-log.ts';
import { byMonth } from './format.ts';
import { type ArchiveDeps, type ArchiveReport, writeBatch } from './posts.ts';

/**
 * `asora archive audit --older-than …`: moves audit_log entries created before `before` to
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
    const rows = await asWorker(deps.db, (tx) =>
      auditEntriesBefore(tx, opts.before.toISOString(), batchSize),
    );
    if (rows.length === 0) break;
    for (const [month, entries] of byMonth(rows, (r) => r.createdAt)) {
      const file = await writeBatch(deps.objects, 'audit', month, entries);
      report.items += await asWorker(deps.db, async (tx) => {
        await recordArchiveFile(tx, file);
        return deleteAuditEntries(
          tx,
          entries.map((e) => e.id),
        );
      });
      report.files.push(file.key);
    }
  }
  return report;
}
