import { readArchivedPosts } from '../archive/read.ts';
import { asUser } from '../canonical/session.ts';
import { appealsBy, presentAppeal } from '../canonical/tables/appeals.ts';
import { deleteIdentities, identitiesOf } from '../canonical/tables/auth-identities.ts';
import { BLOCKS } from '../canonical/tables/blocks.ts';
import { deleteFollowsOf, FOLLOWS } from '../canonical/tables/follows.ts';
import { casesReportedBy, presentCase } from '../canonical/tables/moderation-cases.ts';
import { MUTES } from '../canonical/tables/mutes.ts';
import { deletePairsFrom, pairsOf } from '../canonical/tables/pair-table.ts';
import {
  archivePointers,
  markAuthorPostsDeleted,
  type PostRow,
  postAuthors,
  postIdsBy,
  postSnapshot,
  postsBy,
} from '../canonical/tables/posts.ts';
import { deleteProfile, profileSnapshot, readProfile } from '../canonical/tables/profiles.ts';
import { deleteReactionsBy, reactionsBy } from '../canonical/tables/reactions.ts';
import { readOwnUser, softDeleteUser } from '../canonical/tables/users.ts';
import { AppError } from '../errors.ts';
import { emit, pairAggregateId } from '../events/emit.ts';
import type { Queryable } from '../sql/db.ts';
import type { DomainContext } from './context.ts';
import { forgetReadContext } from './read-context.ts';

type Row = object;

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
/** Rows as the export shows them: column names kept, timestamps as ISO strings. */
const isoRows = (rows: Row[]) =>
  rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
    ),
  );

/** GET /v1/me/export: everything canonical holds about the caller, read under the caller's RLS. */
export async function exportAccount(ctx: DomainContext, userId: string) {
  return asUser(ctx.db, userId, async (tx) => {
    const user = await readOwnUser(tx, userId);
    const profile = await readProfile(tx, userId);
    return {
      exportedAt: new Date().toISOString(),
      user: user ? isoRows([user])[0]! : null,
      identities: isoRows(await identitiesOf(tx, userId)),
      profile: profile ? profileSnapshot(profile) : null,
      posts: await withArchivedText(ctx, tx, await postsBy(tx, userId)),
      reactions: isoRows(await reactionsBy(tx, userId)),
      following: isoRows(await pairsOf(tx, FOLLOWS, userId, 'from')),
      followers: isoRows(await pairsOf(tx, FOLLOWS, userId, 'to')),
      blocks: isoRows(await pairsOf(tx, BLOCKS, userId, 'from')),
      mutes: isoRows(await pairsOf(tx, MUTES, userId, 'from')),
      reports: (await casesReportedBy(tx, userId)).map(presentCase),
      appeals: (await appealsBy(tx, userId, { newestFirst: false })).map(presentAppeal),
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
    for (const p of await markAuthorPostsDeleted(tx, userId))
      await emit(tx, { type: 'post', id: p.id }, 'post.deleted', postSnapshot(p));
    const allPosts = await postIdsBy(tx, userId);

    const reactions = await deleteReactionsBy(tx, userId);
    // Posts the caller can no longer see (removed, deleted) keep their reaction purge in user.deleted.
    const authorOf = await postAuthors(tx, [...new Set(reactions.map((r) => r.postId))]);
    for (const r of reactions) {
      const postAuthorId = authorOf.get(r.postId);
      if (!postAuthorId) continue;
      await emit(
        tx,
        { type: 'reaction', id: pairAggregateId('reaction', r.postId, userId, r.type) },
        'reaction.removed',
        { postId: r.postId, postAuthorId, userId, type: r.type },
      );
    }
    const follows = await deleteFollowsOf(tx, userId);
    for (const f of follows) {
      await emit(
        tx,
        { type: 'follow', id: pairAggregateId('follow', f.followerId, f.followeeId) },
        'follow.removed',
        { followerId: f.followerId, followeeId: f.followeeId },
      );
    }
    await deletePairsFrom(tx, BLOCKS, userId);
    await deletePairsFrom(tx, MUTES, userId);
    await deleteIdentities(tx, userId);
    await deleteProfile(tx, userId);
    const deletedAt = await softDeleteUser(tx, userId);
    await emit(tx, { type: 'user', id: userId }, 'user.deleted', {
      userId,
      deletedAt,
      postIds: allPosts,
      reactions,
      followerIds: follows.filter((f) => f.followeeId === userId).map((f) => f.followerId),
      followeeIds: follows.filter((f) => f.followerId === userId).map((f) => f.followeeId),
    });
  });
  // A deleted account is refused on its next read, not after the read context expires.
  forgetReadContext(ctx, userId);
}
