import { archiveChecksums } from '../canonical/tables/archive-files.ts';
import type { PostSnapshot } from '../events/catalogue.ts';
import type { Queryable } from '../sql/db.ts';
import { ArchiveCorruptError, unpack } from './format.ts';
import type { ObjectStore } from './object-store.ts';

/** One archived post as its file holds it: the snapshot at the moment it was archived. */
export type ArchivedPost = PostSnapshot;

/**
 * Reads archived posts by their canonical pointers, one fetch per file, each checked
 * against the checksum committed in archive_files. Returns id → the archived snapshot.
 */
export async function readArchivedPosts(
  tx: Queryable,
  objects: ObjectStore,
  pointers: { id: string; key: string }[],
): Promise<Map<string, ArchivedPost>> {
  const out = new Map<string, ArchivedPost>();
  const keys = [...new Set(pointers.map((p) => p.key))];
  if (keys.length === 0) return out;
  const sums = await archiveChecksums(tx, keys);
  const wanted = new Set(pointers.map((p) => p.id));
  for (const key of keys) {
    const sum = sums.get(key);
    const body = await objects.get(key);
    if (!sum || !body)
      throw new ArchiveCorruptError(`archive file ${key} is missing from ${objects.location}`);
    for (const post of unpack<ArchivedPost>(key, body, sum))
      if (wanted.has(post.id)) out.set(post.id, post);
  }
  return out;
}
