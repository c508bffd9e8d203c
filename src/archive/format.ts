import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ValidationError } from '../errors.ts';

/**
 * The archive file format: gzip-compressed JSON lines, one record per line, under
 * `<kind>/<yyyy>/<mm>/<batch>.jsonl.gz` (month of the records' creation, UTC), each with a
 * `<batch>.manifest.json` beside it naming the file, its SHA-256, size, count and ids.
 * A batch's name is a hash of its ids, so re-running an interrupted batch rewrites the same
 * file instead of leaving a second copy.
 */
export type ArchiveKind = 'posts' | 'audit';

export interface Packed {
  body: Buffer;
  sha256: string;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export function pack(records: unknown[]): Packed {
  const body = gzipSync(Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join('')));
  return { body, sha256: sha256(body) };
}

export class ArchiveCorruptError extends Error {
  override name = 'ArchiveCorruptError';
}

/** Unpacks a file, first checking it against the checksum recorded when it was committed. */
export function unpack<T>(key: string, body: Buffer, expectedSha256: string): T[] {
  if (sha256(body) !== expectedSha256)
    throw new ArchiveCorruptError(`archive file ${key} does not match its recorded checksum`);
  return gunzipSync(body)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as T);
}

/** "2024-03-17T…" → "2024-03-01" (the partition's month, as a date). */
export const monthOf = (iso: string): string => `${iso.slice(0, 7)}-01`;

export function batchKey(kind: ArchiveKind, month: string, ids: string[]): string {
  const h = createHash('sha256').update(ids.join(',')).digest('hex').slice(0, 20);
  return `${kind}/${month.slice(0, 4)}/${month.slice(5, 7)}/${h}.jsonl.gz`;
}

export const manifestKey = (key: string): string => key.replace(/\.jsonl\.gz$/, '.manifest.json');

/** Groups records by month, keeping their order. */
export function byMonth<T>(rows: T[], createdAt: (r: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const m = monthOf(createdAt(r));
    const list = out.get(m) ?? [];
    list.push(r);
    out.set(m, list);
  }
  return out;
}

/** "365d", "12h", "90d" → milliseconds; throws on anything else. */
export function parseAge(s: string): number {
  const m = /^(\d{1,6})([dh])$/.exec(s.trim());
  if (!m)
    throw new ValidationError(
      `invalid age ${JSON.stringify(s)}: use a number of days or hours, e.g. 365d or 12h`,
    );
  const n = Number(m[1]);
  if (n < 1) throw new ValidationError(`invalid age ${JSON.stringify(s)}: must be at least 1`);
  return n * (m[2] === 'd' ? 86_400_000 : 3_600_000);
}
