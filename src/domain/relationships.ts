import { asUser } from '../canonical/session.ts';
import { iso, NOW_MS } from '../canonical/time.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import { emit, pairAggregateId } from '../events/emit.ts';
import type { Queryable } from '../sql/db.ts';
import type { DomainContext } from './context.ts';
import { forgetReadContext } from './read-context.ts';
import { userExists } from './users.ts';

export type Relation = 'follow' | 'block' | 'mute';

async function checkTarget(tx: Queryable, userId: string, targetId: string, relation: Relation) {
  if (userId === targetId)
    throw new ValidationError(`you cannot ${relation} yourself`, { field: 'userId' });
  if (!(await userExists(tx, targetId))) throw new NotFoundError('user not found');
}

const followAggregate = (followerId: string, followeeId: string) => ({
  type: 'follow' as const,
  id: pairAggregateId('follow', followerId, followeeId),
});

/** Removes a follow row if present and emits follow.removed (used by unfollow and block). */
async function dropFollow(tx: Queryable, followerId: string, followeeId: string): Promise<void> {
  const { rowCount } = await tx.query(
    'DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2 RETURNING id',
    [followerId, followeeId],
  );
  if (rowCount > 0)
    await emit(tx, followAggregate(followerId, followeeId), 'follow.removed', {
      followerId,
      followeeId,
    });
}

/** PUT /users/:id/{follow,block,mute}: idempotent. */
export async function addRelation(
  ctx: DomainContext,
  userId: string,
  targetId: string,
  relation: Relation,
) {
  await asUser(ctx.db, userId, async (tx) => {
    await checkTarget(tx, userId, targetId, relation);
    if (relation === 'follow') {
      // blocks_parties_read lets each side see a block in either direction.
      const { rows: blocked } = await tx.query(
        `SELECT 1 FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)`,
        [userId, targetId],
      );
      if (blocked.length > 0) throw new ForbiddenError('you cannot follow this user');
      const { rows } = await tx.query<{ created_at: unknown }>(
        `INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, ${NOW_MS})
         ON CONFLICT (follower_id, followee_id) DO NOTHING RETURNING created_at`,
        [userId, targetId],
      );
      if (rows[0]) {
        await emit(tx, followAggregate(userId, targetId), 'follow.created', {
          followerId: userId,
          followeeId: targetId,
          createdAt: iso(rows[0].created_at),
        });
      }
      return;
    }
    if (relation === 'block') {
      const { rows } = await tx.query<{ created_at: unknown }>(
        `INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, ${NOW_MS})
         ON CONFLICT (blocker_id, blocked_id) DO NOTHING RETURNING created_at`,
        [userId, targetId],
      );
      if (rows[0]) {
        // A block severs follows both ways, in the same transaction.
        await dropFollow(tx, userId, targetId);
        await dropFollow(tx, targetId, userId);
        await emit(
          tx,
          { type: 'block', id: pairAggregateId('block', userId, targetId) },
          'block.created',
          {
            blockerId: userId,
            blockedId: targetId,
            createdAt: iso(rows[0].created_at),
          },
        );
      }
      return;
    }
    const { rows } = await tx.query<{ created_at: unknown }>(
      `INSERT INTO mutes (muter_id, muted_id, created_at) VALUES ($1, $2, ${NOW_MS})
       ON CONFLICT (muter_id, muted_id) DO NOTHING RETURNING created_at`,
      [userId, targetId],
    );
    if (rows[0]) {
      await emit(
        tx,
        { type: 'mute', id: pairAggregateId('mute', userId, targetId) },
        'mute.created',
        {
          muterId: userId,
          mutedId: targetId,
          createdAt: iso(rows[0].created_at),
        },
      );
    }
  });
  // Both parties' next reads see the change (block and mute hide either way, follow adds a source).
  forgetReadContext(ctx, userId, targetId);
}

/** DELETE /users/:id/{follow,block,mute}: idempotent. */
export async function removeRelation(
  ctx: DomainContext,
  userId: string,
  targetId: string,
  relation: Relation,
) {
  await asUser(ctx.db, userId, async (tx) => {
    await checkTarget(tx, userId, targetId, relation);
    if (relation === 'follow') return dropFollow(tx, userId, targetId);
    if (relation === 'block') {
      const { rowCount } = await tx.query(
        'DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2 RETURNING id',
        [userId, targetId],
      );
      if (rowCount > 0) {
        await emit(
          tx,
          { type: 'block', id: pairAggregateId('block', userId, targetId) },
          'block.removed',
          {
            blockerId: userId,
            blockedId: targetId,
          },
        );
      }
      return;
    }
    const { rowCount } = await tx.query(
      'DELETE FROM mutes WHERE muter_id = $1 AND muted_id = $2 RETURNING id',
      [userId, targetId],
    );
    if (rowCount > 0) {
      await emit(
        tx,
        { type: 'mute', id: pairAggregateId('mute', userId, targetId) },
        'mute.removed',
        {
          muterId: userId,
          mutedId: targetId,
        },
      );
    }
  });
  // Both parties' next reads see the change (block and mute hide either way, follow adds a source).
  forgetReadContext(ctx, userId, targetId);
}
