import type { PostSnapshot } from '../../events/catalogue.ts';
import type { PostStatus } from '../../events/vocabulary.ts';
import type { Db, Queryable } from '../../sql/db.ts';
import { asWorker } from '../session.ts';
import { iso, NOW_MS } from '../time.ts';
import { FEED_AUTHORS_CTE, visibleFollowee } from './follows.ts';
import type { KeyedScan } from './keyed-scan.ts';

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
/** POST_COLUMNS qualified with the alias `p`, for joins. */
const P_COLUMNS = POST_COLUMNS.split(', ')
  .map((c) => `p.${c}`)
  .join(', ');

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

/** Locks a post row for an update (FOR UPDATE); false when there is none. */
export async function lockPost(tx: Queryable, postId: string): Promise<boolean> {
  const { rows } = await tx.query('SELECT 1 FROM posts WHERE id = $1 FOR UPDATE', [postId]);
  return rows.length > 0;
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
      RETURNING ${P_COLUMNS}`,
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

/** Whether a post exists and is not deleted (as the caller may see it). */
export async function postExists(tx: Queryable, postId: string): Promise<boolean> {
  const { rows } = await tx.query(`SELECT 1 FROM posts WHERE id = $1 AND status <> 'deleted'`, [
    postId,
  ]);
  return rows.length > 0;
}

/** Every post of an author, oldest first (the account export). */
export async function postsBy(tx: Queryable, authorId: string): Promise<PostRow[]> {
  const { rows } = await tx.query<PostRow>(
    `SELECT ${POST_COLUMNS} FROM posts WHERE author_id = $1 ORDER BY created_at`,
    [authorId],
  );
  return rows;
}

/** The ids of every post of an author, in any status. */
export async function postIdsBy(tx: Queryable, authorId: string): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>('SELECT id FROM posts WHERE author_id = $1', [
    authorId,
  ]);
  return rows.map((r) => r.id);
}

/** Soft-deletes an author's posts not already deleted or removed (account deletion). */
export async function markAuthorPostsDeleted(tx: Queryable, authorId: string): Promise<PostRow[]> {
  const { rows } = await tx.query<PostRow>(
    `UPDATE posts SET status = 'deleted', version = version + 1, updated_at = ${NOW_MS}, deleted_at = ${NOW_MS}
      WHERE author_id = $1 AND status NOT IN ('deleted', 'removed') RETURNING ${POST_COLUMNS}`,
    [authorId],
  );
  return rows;
}

/** post id → author of the posts among `postIds` the caller can see. */
export async function postAuthors(tx: Queryable, postIds: string[]): Promise<Map<string, string>> {
  const { rows } = await tx.query<{ id: string; author_id: string }>(
    'SELECT id, author_id FROM posts WHERE id = ANY($1::uuid[])',
    [postIds],
  );
  return new Map(rows.map((r) => [r.id, r.author_id]));
}

/** A post row for the reconciler, with whether its author's account is deleted. */
export interface PostCheckRow extends PostRow {
  author_gone: boolean;
}

/** Every post with its author's state, scanned by id (the reconciler's view). */
export const POST_SCAN: KeyedScan<PostCheckRow> = {
  table: 'posts',
  key: 'id',
  select: `SELECT ${P_COLUMNS}, (u.deleted_at IS NOT NULL) AS author_gone
             FROM posts p JOIN users u ON u.id = p.author_id`,
  keyOf: (r) => r.id,
};

/** A post a user's fanned-out feed should hold; `due` when it was posted after the follow began. */
export interface FeedPostRow extends PostRow {
  due: boolean;
}

const FEED_POSTS = `WITH ${FEED_AUTHORS_CTE}
  SELECT ${P_COLUMNS}, p.created_at >= a.since AS due
    FROM authors a JOIN posts p ON p.author_id = a.id
   WHERE p.status = 'published' AND p.deleted_at IS NULL AND p.archived_at IS NULL`;

/**
 * The newest published posts (at most `cap`) a user's fanned-out feed should hold: their
 * own and their visible followees' under the fan-out threshold (FEED_AUTHORS_CTE).
 */
export async function feedPostsOf(
  tx: Queryable,
  userId: string,
  cap: number,
  threshold: number,
): Promise<FeedPostRow[]> {
  const { rows } = await tx.query<FeedPostRow>(
    `${FEED_POSTS} ORDER BY p.created_at DESC, p.id DESC LIMIT $2`,
    [userId, cap, threshold],
  );
  return rows;
}

/** Which of these posts the user's feed may hold at all (beyond the cap included). */
export async function feedEligiblePosts(
  tx: Queryable,
  userId: string,
  threshold: number,
  postIds: string[],
): Promise<Set<string>> {
  const { rows } = await tx.query<{ id: string }>(`${FEED_POSTS} AND p.id = ANY($2::uuid[])`, [
    userId,
    postIds,
    threshold,
  ]);
  return new Set(rows.map((r) => r.id));
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

/**
 * What each of many users' feeds should hold (the same rule as regenerateUserFeed, for
 * all of them in one set-based query): per recipient the newest `cap` published posts
 * of their own and of their visible followees (FEED_AUTHORS_CTE's rule). Keys only: a
 * post is in about as many feeds as its author has followers, so the caller builds each
 * post's document once instead of reading its text and tags once per recipient.
 */
export async function feedPostIdsOfMany(
  tx: Queryable,
  recipientIds: string[],
  cap: number,
  threshold: number,
): Promise<{ recipientId: string; postId: string; authorId: string }[]> {
  // The batch's rows are sorted per recipient in one go: in memory, not in temp files.
  await tx.exec(`SET LOCAL work_mem = '64MB'`);
  const { rows } = await tx.query<{ r: string; p: string; a: string }>(
    `WITH r AS (SELECT DISTINCT unnest($1::uuid[]) AS id),
     authors AS (
       SELECT r.id AS recipient_id, r.id AS author_id FROM r
       UNION ALL
       SELECT r.id, f.followee_id FROM r, follows f${visibleFollowee('r.id', '$3::int')}
     ),
     ranked AS (
       SELECT a.recipient_id, p.id, p.author_id,
              row_number() OVER (PARTITION BY a.recipient_id ORDER BY p.created_at DESC, p.id DESC) AS n
         FROM authors a JOIN posts p ON p.author_id = a.author_id
        WHERE p.status = 'published' AND p.deleted_at IS NULL AND p.archived_at IS NULL
     )
     SELECT recipient_id AS r, id AS p, author_id AS a FROM ranked WHERE n <= $2`,
    [recipientIds, cap, threshold],
  );
  return rows.map((x) => ({ recipientId: x.r, postId: x.p, authorId: x.a }));
}
