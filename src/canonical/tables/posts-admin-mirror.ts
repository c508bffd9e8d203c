import type { PostSnapshot } from '../../events/catalogue.ts';
import type { PostStatus } from '../../events/vocabulary.ts';
import type { Queryable } from '../../sql/db.ts';
import { iso } from '../time.ts';

/**
 * Mirrors posts for admin search, in one statement; an older snapshot never overwrites a
 * newer one, and a deleted account's posts (purged by user.deleted) are not mirrored again.
 */
export async function mirrorPosts(tx: Queryable, ps: PostSnapshot[]): Promise<void> {
  if (ps.length === 0) return;
  await tx.query(
    `INSERT INTO posts_admin_mirror (post_id, author_id, text, tags, status, source_version, created_at, updated_at)
     SELECT x.id, x.a, x.t, ARRAY(SELECT jsonb_array_elements_text(x.g)), x.s, x.v, x.c, x.u
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::text[], $6::int[],
                   $7::timestamptz[], $8::timestamptz[]) AS x(id, a, t, g, s, v, c, u)
      WHERE EXISTS (SELECT 1 FROM users WHERE id = x.a AND deleted_at IS NULL)
     ON CONFLICT (post_id) DO UPDATE
        SET author_id = EXCLUDED.author_id, text = EXCLUDED.text, tags = EXCLUDED.tags,
            status = EXCLUDED.status, source_version = EXCLUDED.source_version,
            created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, mirrored_at = now()
      WHERE posts_admin_mirror.source_version < EXCLUDED.source_version`,
    [
      ps.map((p) => p.id),
      ps.map((p) => p.authorId),
      ps.map((p) => p.text),
      ps.map((p) => JSON.stringify(p.tags)),
      ps.map((p) => p.status),
      ps.map((p) => p.version),
      ps.map((p) => p.createdAt),
      ps.map((p) => p.updatedAt),
    ],
  );
}

/** Mirrors one post (see mirrorPosts). */
export const mirrorPost = (tx: Queryable, p: PostSnapshot): Promise<void> => mirrorPosts(tx, [p]);

/** Drops a deleted account's posts from the mirror (by author, and by id for any moved). */
export async function purgeMirroredPosts(
  tx: Queryable,
  authorId: string,
  postIds: string[],
): Promise<void> {
  await tx.query(
    'DELETE FROM posts_admin_mirror WHERE author_id = $1 OR post_id = ANY($2::uuid[])',
    [authorId, postIds],
  );
}

/** A mirrored post as admin search returns it. */
export type MirroredPost = Omit<PostSnapshot, 'version'>;

/** Full-text search over the mirror, newest first. */
export async function searchMirror(
  tx: Queryable,
  query: string,
  limit: number,
): Promise<MirroredPost[]> {
  const { rows } = await tx.query<{
    post_id: string;
    author_id: string;
    text: string;
    tags: string[];
    status: PostStatus;
    created_at: unknown;
    updated_at: unknown;
  }>(
    `SELECT post_id, author_id, text, tags, status, created_at, updated_at FROM posts_admin_mirror
      WHERE search @@ plainto_tsquery('simple', $1)
      ORDER BY created_at DESC, post_id DESC LIMIT $2`,
    [query, limit],
  );
  return rows.map((r) => ({
    id: r.post_id,
    authorId: r.author_id,
    text: r.text,
    tags: r.tags ?? [],
    status: r.status,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  }));
}
