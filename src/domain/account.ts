import { readArchivedPosts } from '../archive/read.ts';
import { asUser } from '../canonical/session.ts';
import {
  archivePointers,
  POST_COLUMNS,
  type PostRow,
  postSnapshot,
} from '../canonical/tables/posts.ts';
import { PROFILE_COLUMNS, type ProfileRow, profileSnapshot } from '../canonical/tables/profiles.ts';
import { iso, NOW_MS } from '../canonical/time.ts';
import { AppError } from '../errors.ts';
import type { ReactionType } from '../events/catalogue.ts';
import { emit, pairAggregateId } from '../events/emit.ts';
import type { Queryable } from '../sql/db.ts';
import type { DomainContext } from './context.ts';
import {
  APPEAL_COLUMNS,
  type AppealRow,
  CASE_COLUMNS,
  type CaseRow,
  presentAppeal,
  presentCase,
} from './moderation.ts';
import { forgetReadContext } from './read-context.ts';

type Row = Record<string, unknown>;

/** The caller's posts with the text of archived ones read back from cold storage. */
async function withArchivedText(ctx: DomainContext, tx: Queryable, rows: PostRow[]) {
  const archived = rows.filter((r) => r.archived_at);
  if (archived.length === 0) return rows.map(postSnapshot);
  if (!ctx.archive)
    throw new AppError(
      503,
      'archive_unavailable',
      'archived posts cannot be read: no cold storage',
    );
  const pointers = await archivePointers(
    tx,
    archived.map((r) => r.id),
  );
  const copies = await readArchivedPosts(tx, ctx.archive, pointers);
  return rows.map((r) => {
    const s = postSnapshot(r);
    return s.archivedAt ? { ...s, text: copies.get(s.id)?.text ?? '' } : s;
  });
}
const isoRows = (rows: Row[]) =>
  rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
    ),
  );

/** GET /v1/me/export: everything canonical holds about the caller, read under the caller's RLS. */
export async function exportAccount(ctx: DomainContext, userId: string) {
  return asUser(ctx.db, userId, async (tx) => {
    const q = async (sql: string) => (await tx.query<Row>(sql, [userId])).rows;
    const [user] = await q(
      'SELECT id, email, role, created_at, updated_at FROM users WHERE id = $1',
    );
    const profile = (
      await tx.query<ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE user_id = $1`, [
        userId,
      ])
    ).rows[0];
    const posts = (
      await tx.query<PostRow>(
        `SELECT ${POST_COLUMNS} FROM posts WHERE author_id = $1 ORDER BY created_at`,
        [userId],
      )
    ).rows;
    const cases = (
      await tx.query<CaseRow>(
        `SELECT ${CASE_COLUMNS} FROM moderation_cases WHERE reporter_id = $1 ORDER BY created_at`,
        [userId],
      )
    ).rows;
    const appeals = (
      await tx.query<AppealRow>(
        `SELECT ${APPEAL_COLUMNS} FROM appeals WHERE appellant_id = $1 ORDER BY created_at`,
        [userId],
      )
    ).rows;
    return {
      exportedAt: new Date().toISOString(),
      user: isoRows(user ? [user] : [])[0] ?? null,
      identities: isoRows(
        await q(
          'SELECT provider, provider_subject, created_at FROM auth_identities WHERE user_id = $1',
        ),
      ),
      profile: profile ? profileSnapshot(profile) : null,
      posts: await withArchivedText(ctx, tx, posts),
      reactions: isoRows(
        await q(
          'SELECT post_id, type, created_at FROM reactions WHERE user_id = $1 ORDER BY created_at',
        ),
      ),
      following: isoRows(
        await q(
          'SELECT followee_id AS user_id, created_at FROM follows WHERE follower_id = $1 ORDER BY created_at',
        ),
      ),
      followers: isoRows(
        await q(
          'SELECT follower_id AS user_id, created_at FROM follows WHERE followee_id = $1 ORDER BY created_at',
        ),
      ),
      blocks: isoRows(
        await q(
          'SELECT blocked_id AS user_id, created_at FROM blocks WHERE blocker_id = $1 ORDER BY created_at',
        ),
      ),
      mutes: isoRows(
        await q(
          'SELECT muted_id AS user_id, created_at FROM mutes WHERE muter_id = $1 ORDER BY created_at',
        ),
      ),
      reports: cases.map(presentCase),
      appeals: appeals.map(presentAppeal),
    };
  });
}

/**
 * DELETE /v1/me: canonical soft delete in one transaction. The email is scrubbed to a unique
 * placeholder (so it can register again), credentials, relationship rows and the profile
 * are removed, posts become
 * 'deleted'. user.deleted carries what was removed so the relay can purge projections; the
 * per-aggregate events (post.deleted, follow.removed, reaction.removed) keep each aggregate's
 * own order intact.
 */
export async function deleteAccount(ctx: DomainContext, userId: string): Promise<void> {
  await asUser(ctx.db, userId, async (tx) => {
    const { rows: posts } = await tx.query<PostRow>(
      `UPDATE posts SET status = 'deleted', version = version + 1, updated_at = ${NOW_MS}, deleted_at = ${NOW_MS}
        WHERE author_id = $1 AND status NOT IN ('deleted', 'removed') RETURNING ${POST_COLUMNS}`,
      [userId],
    );
    for (const p of posts)
      await emit(tx, { type: 'post', id: p.id }, 'post.deleted', postSnapshot(p));
    const { rows: allPosts } = await tx.query<{ id: string }>(
      'SELECT id FROM posts WHERE author_id = $1',
      [userId],
    );

    const { rows: reactions } = await tx.query<{ post_id: string; type: ReactionType }>(
      'DELETE FROM reactions WHERE user_id = $1 RETURNING post_id, type',
      [userId],
    );
    // Posts the caller can no longer see (removed, deleted) keep their reaction purge in user.deleted.
    const { rows: authors } = await tx.query<{ id: string; author_id: string }>(
      'SELECT id, author_id FROM posts WHERE id = ANY($1::uuid[])',
      [[...new Set(reactions.map((r) => r.post_id))]],
    );
    const authorOf = new Map(authors.map((a) => [a.id, a.author_id]));
    for (const r of reactions) {
      const postAuthorId = authorOf.get(r.post_id);
      if (!postAuthorId) continue;
      await emit(
        tx,
        { type: 'reaction', id: pairAggregateId('reaction', r.post_id, userId, r.type) },
        'reaction.removed',
        {
          postId: r.post_id,
          postAuthorId,
          userId,
          type: r.type,
        },
      );
    }
    const { rows: follows } = await tx.query<{ follower_id: string; followee_id: string }>(
      'DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1 RETURNING follower_id, followee_id',
      [userId],
    );
    for (const f of follows) {
      await emit(
        tx,
        { type: 'follow', id: pairAggregateId('follow', f.follower_id, f.followee_id) },
        'follow.removed',
        {
          followerId: f.follower_id,
          followeeId: f.followee_id,
        },
      );
    }
    await tx.query('DELETE FROM blocks WHERE blocker_id = $1', [userId]);
    await tx.query('DELETE FROM mutes WHERE muter_id = $1', [userId]);
    await tx.query('DELETE FROM auth_identities WHERE user_id = $1', [userId]);
    await tx.query('DELETE FROM profiles WHERE user_id = $1', [userId]);
    const { rows: deleted } = await tx.query<{ deleted_at: unknown }>(
      `UPDATE users SET email = 'deleted+' || id::text || '@deleted.invalid', password_hash = NULL,
              updated_at = ${NOW_MS}, deleted_at = ${NOW_MS}
        WHERE id = $1 RETURNING deleted_at`,
      [userId],
    );
    await emit(tx, { type: 'user', id: userId }, 'user.deleted', {
      userId,
      deletedAt: iso(deleted[0]!.deleted_at),
      postIds: allPosts.map((p) => p.id),
      reactions: reactions.map((r) => ({ postId: r.post_id, type: r.type })),
      followerIds: follows.filter((f) => f.followee_id === userId).map((f) => f.follower_id),
      followeeIds: follows.filter((f) => f.follower_id === userId).map((f) => f.followee_id),
    });
  });
  // A deleted account is refused on its next read, not after the read context expires.
  forgetReadContext(ctx, userId);
}
