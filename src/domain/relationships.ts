import { asUser } from '../canonical/session.ts';
import { BLOCKS, blockBetween } from '../canonical/tables/blocks.ts';
import { FOLLOWS } from '../canonical/tables/follows.ts';
import { MUTES } from '../canonical/tables/mutes.ts';
import { deletePair, insertPair, type PairTable } from '../canonical/tables/pair-table.ts';
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

const TABLES: Record<Relation, PairTable> = { follow: FOLLOWS, block: BLOCKS, mute: MUTES };

/** The two parties as each relation's events name them. */
const PARTIES = {
  follow: (from: string, to: string) => ({ followerId: from, followeeId: to }),
  block: (from: string, to: string) => ({ blockerId: from, blockedId: to }),
  mute: (from: string, to: string) => ({ muterId: from, mutedId: to }),
};

const aggregate = (relation: Relation, from: string, to: string) => ({
  type: relation,
  id: pairAggregateId(relation, from, to),
});

/**
 * Adds the pair if absent and emits `<relation>.created`; `first` runs in between (a new
 * block severs follows before its own event). Idempotent: an existing pair does nothing.
 */
async function addPair(
  tx: Queryable,
  relation: Relation,
  from: string,
  to: string,
  first?: () => Promise<void>,
): Promise<void> {
  const createdAt = await insertPair(tx, TABLES[relation], from, to);
  if (!createdAt) return;
  await first?.();
  await emit(tx, aggregate(relation, from, to), `${relation}.created`, {
    ...PARTIES[relation](from, to),
    createdAt,
  });
}

/** Removes the pair if present and emits `<relation>.removed` (unfollow, unblock, unmute, block). */
async function dropPair(tx: Queryable, relation: Relation, from: string, to: string) {
  if (await deletePair(tx, TABLES[relation], from, to))
    await emit(
      tx,
      aggregate(relation, from, to),
      `${relation}.removed`,
      PARTIES[relation](from, to),
    );
}

/** Runs a change as the caller on a valid target; both parties' next reads then see it. */
async function changeRelation(
  ctx: DomainContext,
  userId: string,
  targetId: string,
  relation: Relation,
  change: (tx: Queryable) => Promise<void>,
): Promise<void> {
  await asUser(ctx.db, userId, async (tx) => {
    await checkTarget(tx, userId, targetId, relation);
    await change(tx);
  });
  // Block and mute hide either way, follow adds a source: neither party's cached context holds.
  forgetReadContext(ctx, userId, targetId);
}

/** PUT /users/:id/{follow,block,mute}: idempotent. */
export const addRelation = (
  ctx: DomainContext,
  userId: string,
  targetId: string,
  relation: Relation,
) =>
  changeRelation(ctx, userId, targetId, relation, async (tx) => {
    // blocks_parties_read lets each side see a block in either direction.
    if (relation === 'follow' && (await blockBetween(tx, userId, targetId)))
      throw new ForbiddenError('you cannot follow this user');
    // A block severs follows both ways, in the same transaction.
    const severFollows = async () => {
      await dropPair(tx, 'follow', userId, targetId);
      await dropPair(tx, 'follow', targetId, userId);
    };
    await addPair(tx, relation, userId, targetId, relation === 'block' ? severFollows : undefined);
  });

/** DELETE /users/:id/{follow,block,mute}: idempotent. */
export const removeRelation = (
  ctx: DomainContext,
  userId: string,
  targetId: string,
  relation: Relation,
) =>
  changeRelation(ctx, userId, targetId, relation, (tx) => dropPair(tx, relation, userId, targetId));
