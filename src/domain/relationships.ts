import { asUser } from '../canonical/session.ts';
import { BLOCKS, blockBetween } from '../canonical/tables/blocks.ts';
import { FOLLOWS } from '../canonical/tables/follows.ts';
import { MUTES } from '../canonical/tables/mutes.ts';
import { deletePair, insertPair } from '../canonical/tables/pair-table.ts';
import { userExists } from '../canonical/tables/users.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import { emit, pairAggregateId } from '../events/emit.ts';
import type { Queryable } from '../sql/db.ts';
import type { DomainContext } from './context.ts';
import { forgetReadContext } from './read-context.ts';

export type Relation = 'follow' | 'block' | 'mute';

async function checkTarget(tx: Queryable, userId: string, targetId: string, relation: Relation) {
  if (userId === targetId)
    throw new ValidationError(`you cannot ${relation} yourself`, { field: 'userId' });
  if (!(await userExists(tx, targetId))) throw new NotFoundError('user not found');
}

const pairAggregate = <T extends Relation>(type: T, from: string, to: string) => ({
  type,
  id: pairAggregateId(type, from, to),
});
const followAggregate = (followerId: string, followeeId: string) =>
  pairAggregate('follow', followerId, followeeId);

/** Removes a follow row if present and emits follow.removed (used by unfollow and block). */
async function dropFollow(tx: Queryable, followerId: string, followeeId: string): Promise<void> {
  if (await deletePair(tx, FOLLOWS, followerId, followeeId))
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
      if (await blockBetween(tx, userId, targetId))
        throw new ForbiddenError('you cannot follow this user');
      const createdAt = await insertPair(tx, FOLLOWS, userId, targetId);
      if (createdAt) {
        await emit(tx, followAggregate(userId, targetId), 'follow.created', {
          followerId: userId,
          followeeId: targetId,
          createdAt,
        });
      }
      return;
    }
    if (relation === 'block') {
      const createdAt = await insertPair(tx, BLOCKS, userId, targetId);
      if (createdAt) {
        // A block severs follows both ways, in the same transaction.
        await dropFollow(tx, userId, targetId);
        await dropFollow(tx, targetId, userId);
        await emit(tx, pairAggregate('block', userId, targetId), 'block.created', {
          blockerId: userId,
          blockedId: targetId,
          createdAt,
        });
      }
      return;
    }
    const createdAt = await insertPair(tx, MUTES, userId, targetId);
    if (createdAt) {
      await emit(tx, pairAggregate('mute', userId, targetId), 'mute.created', {
        muterId: userId,
        mutedId: targetId,
        createdAt,
      });
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
      if (await deletePair(tx, BLOCKS, userId, targetId)) {
        await emit(tx, pairAggregate('block', userId, targetId), 'block.removed', {
          blockerId: userId,
          blockedId: targetId,
        });
      }
      return;
    }
    if (await deletePair(tx, MUTES, userId, targetId)) {
      await emit(tx, pairAggregate('mute', userId, targetId), 'mute.removed', {
        muterId: userId,
        mutedId: targetId,
      });
    }
  });
  // Both parties' next reads see the change (block and mute hide either way, follow adds a source).
  forgetReadContext(ctx, userId, targetId);
}
