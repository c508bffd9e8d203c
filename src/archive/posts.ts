import { asWorker } from '../canonical/session.ts';
import { type ArchiveFile, recordArchiveFile } from '../canonical/tables/archive-files.ts';
import {
  archivePointers,
  hotPostsBefore,
  lockPost,
  markPostsArchived,
  postSnapshot,
  restorePostText,
} from '../canonical/tables/posts.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { PostSnapshot } from '../events/catalogue.ts';
import { emit } from '../events/emit.ts';
import type { Db } from '../sql/db.ts';
import { type ArchiveKind, batchKey, byMonth, manifestKey, pack } from './format.ts';
import type { ObjectStore } from './object-store.ts';
import { readArchivedPosts } from './read.ts';

export interface ArchiveDeps {
  db: Db;
  objects: ObjectStore;
}

export interface ArchiveReport {
  files: string[];
  items: number;
}

/**
 * Writes one month's batch to cold storage: the data file, then its manifest. Only after
 * both are stored does the caller commit the pointers, so a crash before that commit leaves
 * the rows hot (and the next run rewrites the same file).
 */
export async function writeBatch(
  objects: ObjectStore,
  kind: ArchiveKind,
  month: string,
  records: { id: string; createdAt: string }[],
): Promise<ArchiveFile> {
  const ids = records.map((r) => r.id);
  const key = batchKey(kind, month, ids);
  const { body, sha256 } = pack(records);
  await objects.put(key, body);
  const file = { key, kind, month, items: ids.length, bytes: body.length, sha256 };
  const range = { from: records[0]?.createdAt, to: records.at(-1)?.createdAt };
  await objects.put(
    manifestKey(key),
    Buffer.from(JSON.stringify({ ...file, ...range, ids }, null, 2)),
  );
  return file;
}

/**
 * `asora archive posts --older-than …`: moves posts created before `before` to cold storage,
 * oldest first, in month-partitioned batches. Per batch: file and manifest written, then one
 * canonical transaction records the file, points each row at it (text cleared, version
 * bumped; a row that changed meanwhile is skipped and stays hot) and emits post.archived, so
 * the relay takes the post out of posts_v2, feeds and discovery. Every post is at every
 * moment either hot or archived with a readable, checksummed copy.
 */
export async function archivePosts(
  deps: ArchiveDeps,
  opts: { before: Date; batchSize?: number; maxBatches?: number },
): Promise<ArchiveReport> {
  const batchSize = opts.batchSize ?? 500;
  const report: ArchiveReport = { files: [], items: 0 };
  for (let n = 0; opts.maxBatches === undefined || n < opts.maxBatches; n++) {
    const rows = await asWorker(deps.db, async (tx) =>
      (await hotPostsBefore(tx, opts.before.toISOString(), batchSize)).map(postSnapshot),
    );
    if (rows.length === 0) break;
    let moved = 0;
    for (const [month, posts] of byMonth(rows, (p) => p.createdAt)) {
      const file = await writeBatch(deps.objects, 'posts', month, posts);
      moved += await asWorker(deps.db, async (tx) => {
        await recordArchiveFile(tx, file);
        const done = await markPostsArchived(tx, file.key, posts);
        for (const r of done)
          await emit(tx, { type: 'post', id: r.id }, 'post.archived', postSnapshot(r));
        return done.length;
      });
      report.files.push(file.key);
    }
    report.items += moved;
    // Every row of the batch changed under us: stop rather than spin; the next run retries.
    if (moved === 0) break;
  }
  return report;
}

/** `asora archive restore <postId>`: the post's text back from cold storage; hot again. */
export async function restorePost(deps: ArchiveDeps, postId: string): Promise<PostSnapshot> {
  return asWorker(deps.db, async (tx) => {
    const found = await lockPost(tx, postId);
    const [pointer] = await archivePointers(tx, [postId]);
    if (!pointer) {
      if (!found) throw new NotFoundError(`post ${postId} not found`);
      throw new ConflictError(`post ${postId} is not archived`, 'not_archived');
    }
    const copy = (await readArchivedPosts(tx, deps.objects, [pointer])).get(postId);
    if (!copy) throw new NotFoundError(`post ${postId} is not in its archive file ${pointer.key}`);
    const row = await restorePostText(tx, postId, copy.text);
    if (!row) throw new ConflictError(`post ${postId} is not archived`, 'not_archived');
    const s = postSnapshot(row);
    await emit(tx, { type: 'post', id: postId }, 'post.restored', s);
    return s;
  });
}
