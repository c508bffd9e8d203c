import { asWorker } from '../canonical/session.ts';
import { POST_COLUMNS, type PostRow, postSnapshot } from '../canonical/tables/posts.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { PostSnapshot } from '../events/catalogue.ts';
import { emit } from '../events/emit.ts';
import type { Db, Queryable } from '../sql/db.ts';
import { batchKey, byMonth, manifestKey, pack } from './format.ts';
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

/** Records a committed file: the authoritative manifest (re-running a batch rewrites it). */
export async function recordFile(
  tx: Queryable,
  f: {
    key: string;
    kind: 'posts' | 'audit';
    month: string;
    items: number;
    bytes: number;
    sha256: string;
  },
): Promise<void> {
  await tx.query(
    `INSERT INTO archive_files (key, kind, month, items, bytes, sha256) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (key) DO UPDATE SET items = EXCLUDED.items, bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256`,
    [f.key, f.kind, f.month, f.items, f.bytes, f.sha256],
  );
}

/**
 * Writes one month's batch to cold storage: the data file, then its manifest. Only after
 * both are stored does the caller commit the pointers, so a crash before that commit leaves
 * the rows hot (and the next run rewrites the same file).
 */
export async function writeBatch(
  objects: ObjectStore,
  kind: 'posts' | 'audit',
  month: string,
  ids: string[],
  records: unknown[],
  range: { from: string; to: string },
) {
  const key = batchKey(kind, month, ids);
  const { body, sha256 } = pack(records);
  await objects.put(key, body);
  const manifest = {
    key,
    kind,
    month,
    items: ids.length,
    bytes: body.length,
    sha256,
    ...range,
    ids,
  };
  await objects.put(manifestKey(key), Buffer.from(JSON.stringify(manifest, null, 2)));
  return { key, kind, month, items: ids.length, bytes: body.length, sha256 };
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
    const rows = await asWorker(deps.db, async (tx) => {
      const r = await tx.query<PostRow>(
        `SELECT ${POST_COLUMNS} FROM posts
          WHERE archived_at IS NULL AND status <> 'deleted' AND created_at < $1
          ORDER BY created_at, id LIMIT $2`,
        [opts.before.toISOString(), batchSize],
      );
      return r.rows.map(postSnapshot);
    });
    if (rows.length === 0) break;
    let moved = 0;
    for (const [month, posts] of byMonth(rows, (p) => p.createdAt)) {
      const ids = posts.map((p) => p.id);
      const file = await writeBatch(deps.objects, 'posts', month, ids, posts, {
        from: posts[0]!.createdAt,
        to: posts.at(-1)!.createdAt,
      });
      moved += await asWorker(deps.db, async (tx) => {
        await recordFile(tx, file);
        const { rows: done } = await tx.query<PostRow>(
          `UPDATE posts p SET text = NULL, archived_at = now(), archive_key = $1, version = p.version + 1
             FROM unnest($2::uuid[], $3::int[]) AS x(id, version)
            WHERE p.id = x.id AND p.version = x.version AND p.archived_at IS NULL
            RETURNING ${POST_COLUMNS.split(', ')
              .map((c) => `p.${c}`)
              .join(', ')}`,
          [file.key, ids, posts.map((p) => p.version)],
        );
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
    const { rows } = await tx.query<PostRow & { archive_key: string | null }>(
      `SELECT ${POST_COLUMNS}, archive_key FROM posts WHERE id = $1 FOR UPDATE`,
      [postId],
    );
    const row = rows[0];
    if (!row) throw new NotFoundError(`post ${postId} not found`);
    if (!row.archive_key) throw new ConflictError(`post ${postId} is not archived`, 'not_archived');
    const copy = (
      await readArchivedPosts(tx, deps.objects, [{ id: postId, key: row.archive_key }])
    ).get(postId);
    if (!copy)
      throw new NotFoundError(`post ${postId} is not in its archive file ${row.archive_key}`);
    const { rows: done } = await tx.query<PostRow>(
      `UPDATE posts SET text = $2, archived_at = NULL, archive_key = NULL, version = version + 1
        WHERE id = $1 RETURNING ${POST_COLUMNS}`,
      [postId, copy.text],
    );
    const s = postSnapshot(done[0]!);
    await emit(tx, { type: 'post', id: postId }, 'post.restored', s);
    return s;
  });
}
