import type { PostSnapshot } from '../../events/catalogue.ts';
import type { PostStatus } from '../../events/vocabulary.ts';
import type { Db, Queryable } from '../../sql/db.ts';
import { asWorker } from '../session.ts';
import { iso, NOW_MS } from '../time.ts';

/** The posts table: its row, columns, row → snapshot mapping and the queries shared across the app. */
export interface PostRow {
  id: string;
  author_id: string;
  /** NULL while archived (the text is in cold storage). */
  text: string | null;
  tags: string[];
  status: PostStatus;
  version: number;
  created_at: unknown;
  updated_at: unknown;
  archived_at?: unknown;
}

export const POST_COLUMNS =
  'id, author_id, text, tags, status, version, created_at, updated_at, archived_at';

export const postSnapshot = (r: PostRow): PostSnapshot => ({
  id: r.id,
  authorId: r.author_id,
  text: r.text ?? '',
  tags: r.tags ?? [],
  status: r.status,
  version: Number(r.version),
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  ...(r.archived_at ? { archivedAt: iso(r.archived_at) } : {}),
});

export async function insertPost(
  tx: Queryable,
  authorId: string,
  text: string,
  tags: string[],
): Promise<PostRow> {
  const { rows } = await tx.query<PostRow>(
    `INSERT INTO posts (author_id, text, tags, created_at, updated_at) VALUES ($1, $2, $3, ${NOW_MS}, ${NOW_MS})
     RETURNING ${POST_COLUMNS}`,
    [authorId, text, tags],
  );
  return rows[0]!;
}

export async function readPost(tx: Queryable, postId: string): Promise<PostRow | undefined> {
  const { rows } = await tx.query<PostRow>(`SELECT ${POST_COLUMNS} FROM posts WHERE id = $1`, [
    postId,
  ]);
  return rows[0];
}

/** A new text and tags, only at the expected version (optimistic concurrency); undefined when it moved. */
export async function updatePostContent(
  tx: Queryable,
  postId: string,
  expectedVersion: number,
  text: string,
  tags: string[],
): Promise<PostRow | undefined> {
  const { rows } = await tx.query<PostRow>(
    `UPDATE posts SET text = $2, tags = $3, version = version + 1, updated_at = ${NOW_MS}
      WHERE id = $1 AND version = $4 RETURNING ${POST_COLUMNS}`,
    [postId, text, tags, expectedVersion],
  );
  return rows[0];
}

/** Soft-deletes a post at the expected version; undefined when it moved. */
export async function markPostDeleted(
  tx: Queryable,
  postId: string,
  expectedVersion: number,
): Promise<PostRow | undefined> {
  const { rows } = await tx.query<PostRow>(
    `UPDATE posts SET status = 'deleted', version = version + 1, updated_at = ${NOW_MS}, deleted_at = ${NOW_MS}
      WHERE id = $1 AND version = $2 RETURNING ${POST_COLUMNS}`,
    [postId, expectedVersion],
  );
  return rows[0];
}

/** Moves a post from one status to another; undefined when it is not in `from` (or gone). */
export async function setPostStatus(
  tx: Queryable,
  postId: string,
  from: PostStatus,
  to: PostStatus,
): Promise<PostRow | undefined> {
  const { rows } = await tx.query<PostRow>(
    `UPDATE posts SET status = $3, version = version + 1, updated_at = ${NOW_MS}
      WHERE id = $1 AND status = $2 RETURNING ${POST_COLUMNS}`,
    [postId, from, to],
  );
  return rows[0];
}

/** The author of a post (only while published, when asked), or undefined. */
export async function postAuthor(
  tx: Queryable,
  postId: string,
  opts: { published?: boolean } = {},
): Promise<string | undefined> {
  const { rows } = await tx.query<{ author_id: string }>(
    `SELECT author_id FROM posts WHERE id = $1${opts.published ? ` AND status = 'published'` : ''}`,
    [postId],
  );
  return rows[0]?.author_id;
}

/** An author's published posts, newest first, after a (createdAt, id) keyset. */
export async function publishedPostsPage(
  tx: Queryable,
  authorId: string,
  after: { t: string; id: string } | undefined,
  limit: number,
): Promise<PostRow[]> {
  const { rows } = await tx.query<PostRow>(
    `SELECT ${POST_COLUMNS} FROM posts
      WHERE author_id = $1 AND status = 'published' AND archived_at IS NULL
        AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
      ORDER BY created_at DESC, id DESC LIMIT $4`,
    [authorId, after?.t ?? null, after?.id ?? null, limit],
  );
  return rows;
}

/** An author's most recent published posts, newest first, from the primary (feed backfill). */
export function recentPublishedPosts(
  db: Db,
  authorId: string,
  limit: number,
): Promise<PostSnapshot[]> {
  return asWorker(db, async (tx) => {
    const { rows } = await tx.query<PostRow>(
      `SELECT ${POST_COLUMNS} FROM posts
        WHERE author_id = $1 AND status = 'published' AND deleted_at IS NULL AND archived_at IS NULL
        ORDER BY created_at DESC
        LIMIT $2`,
      [authorId, limit],
    );
    return rows.map(postSnapshot);
  });
}

/** The published-post count of an author (the `posts` counter's truth). */
export async function countPublishedPosts(tx: Queryable, authorId: string): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM posts WHERE author_id = $1 AND status = 'published'`,
    [authorId],
  );
  return rows[0]!.n;
}

/** The oldest posts still hot (not archived, not deleted) created before `before`: archive candidates. */
export async function hotPostsBefore(
  tx: Queryable,
  before: string,
  limit: number,
): Promise<PostRow[]> {
  const { rows } = await tx.query<PostRow>(
    `SELECT ${POST_COLUMNS} FROM posts
      WHERE archived_at IS NULL AND status <> 'deleted' AND created_at < $1
      ORDER BY created_at, id LIMIT $2`,
    [before, limit],
  );
  return rows;
}

/**
 * Points posts at their archive file and clears their text (version bumped), each only at
 * the version it was read at and while still hot; returns the rows it archived.
 */
export async function markPostsArchived(
  tx: Queryable,
  key: string,
  posts: { id: string; version: number }[],
): Promise<PostRow[]> {
  const { rows } = await tx.query<PostRow>(
    `UPDATE posts p SET text = NULL, archived_at = now(), archive_key = $1, version = p.version + 1
       FROM unnest($2::uuid[], $3::int[]) AS x(id, version)
      WHERE p.id = x.id AND p.version = x.version AND p.archived_at IS NULL
      RETURNING ${POST_COLUMNS.split(', ')
        .map((c) => `p.${c}`)
        .join(', ')}`,
    [key, posts.map((p) => p.id), posts.map((p) => p.version)],
  );
  return rows;
}

/** Where archived posts' copies are: id → archive file key (hot posts are left out). */
export async function archivePointers(
  tx: Queryable,
  postIds: string[],
): Promise<{ id: string; key: string }[]> {
  const { rows } = await tx.query<{ id: string; key: string }>(
    `SELECT id::text, archive_key AS key FROM posts WHERE id = ANY($1::uuid[]) AND archive_key IS NOT NULL`,
    [postIds],
  );
  return rows;
}

/** An archived post's text back in canonical, the pointer cleared (version bumped). */
export async function restorePostText(
  tx: Queryable,
  postId: string,
  text: string,
): Promise<PostRow | undefined> {
  const { rows } = await tx.query<PostRow>(
    `UPDATE posts SET text = $2, archived_at = NULL, archive_key = NULL, version = version + 1
      WHERE id = $1 AND archived_at IS NOT NULL RETURNING ${POST_COLUMNS}`,
    [postId, text],
  );
  return rows[0];
}

/** Bulk-creates published posts at version 1 (the seed), one statement. */
export async function insertPosts(
  tx: Queryable,
  posts: Pick<PostSnapshot, 'id' | 'authorId' | 'text' | 'tags' | 'createdAt'>[],
): Promise<void> {
  await tx.query(
    `INSERT INTO posts (id, author_id, text, tags, created_at, updated_at)
     SELECT x.id, x.a, x.t, ARRAY(SELECT jsonb_array_elements_text(x.g)), x.c, x.c
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::timestamptz[]) AS x(id, a, t, g, c)`,
    [
      posts.map((p) => p.id),
      posts.map((p) => p.authorId),
      posts.map((p) => p.text),
      posts.map((p) => JSON.stringify(p.tags)),
      posts.map((p) => p.createdAt),
    ],
  );
}

/** Every post (any status) of these authors, in one query. */
export async function postsByAuthors(tx: Queryable, authorIds: string[]): Promise<PostRow[]> {
  const { rows } = await tx.query<PostRow>(
    `SELECT ${POST_COLUMNS} FROM posts WHERE author_id = ANY($1::uuid[])`,
    [authorIds],
  );
  return rows;
}
