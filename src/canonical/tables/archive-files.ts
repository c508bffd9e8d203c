import type { Queryable } from '../../sql/db.ts';

/** archive_files: every committed cold-storage file with its checksum (the authoritative manifest). */
export interface ArchiveFile {
  key: string;
  kind: 'posts' | 'audit';
  month: string;
  items: number;
  bytes: number;
  sha256: string;
}

/** Records a file in the transaction that commits what points at it (a re-run rewrites it). */
export async function recordArchiveFile(tx: Queryable, f: ArchiveFile): Promise<void> {
  await tx.query(
    `INSERT INTO archive_files (key, kind, month, items, bytes, sha256) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (key) DO UPDATE SET items = EXCLUDED.items, bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256`,
    [f.key, f.kind, f.month, f.items, f.bytes, f.sha256],
  );
}

/** key → SHA-256 of the recorded files among `keys`. */
export async function archiveChecksums(
  tx: Queryable,
  keys: string[],
): Promise<Map<string, string>> {
  const { rows } = await tx.query<{ key: string; sha256: string }>(
    'SELECT key, sha256 FROM archive_files WHERE key = ANY($1::text[])',
    [keys],
  );
  return new Map(rows.map((r) => [r.key, r.sha256]));
}
