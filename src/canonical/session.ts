import { UnauthenticatedError } from '../errors.ts';
import type { Db, Queryable } from '../sql/db.ts';
import { markIdempotentWrite } from './idempotent-write.ts';

export type { UserRole } from '../events/vocabulary.ts';

import type { UserRole } from '../events/vocabulary.ts';

export interface Caller {
  userId: string;
  role: UserRole;
}

/**
 * Runs fn in one transaction as the caller: one statement (auth_begin_session, 0006) reads
 * the caller's role from the users row (not trusted from a token), refuses a deleted or
 * unknown account, switches to the caller's non-owner database role and sets
 * `app.current_user_id`, so Row Level Security applies to every statement after it.
 */
export function asUser<T>(
  db: Db,
  userId: string,
  fn: (tx: Queryable, caller: Caller) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    const role = await beginSession(tx, userId);
    const out = await fn(tx, { userId, role });
    await markIdempotentWrite(tx);
    return out;
  });
}

/** SQLSTATE auth_begin_session raises for a deleted or unknown account. */
const NO_ACCOUNT = '28000';

/** Maps the session function's refusal to the API's 401; other errors pass through. */
export async function sessionStatement<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if ((err as { code?: unknown }).code === NO_ACCOUNT)
      throw new UnauthenticatedError('the account no longer exists');
    throw err;
  }
}

async function beginSession(tx: Queryable, userId: string): Promise<UserRole> {
  const { rows } = await sessionStatement(() =>
    tx.query<{ role: UserRole }>('SELECT auth_begin_session($1::uuid) AS role', [userId]),
  );
  return rows[0]!.role;
}

/**
 * Runs fn as the application role with no authenticated user (registration, login).
 * `actAs` sets the current user id up front, e.g. the id a registration is creating.
 */
export function asAnonymous<T>(
  db: Db,
  fn: (tx: Queryable, actAs: (userId: string) => Promise<void>) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.exec('SET LOCAL ROLE asora_app');
    const actAs = async (userId: string) => {
      await tx.query(`SELECT set_config('app.current_user_id', $1, true)`, [userId]);
    };
    const out = await fn(tx, actAs);
    await markIdempotentWrite(tx);
    return out;
  });
}

/** Runs fn as the background-worker role (relay, processors, runbooks). */
export function asWorker<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.exec('SET LOCAL ROLE asora_worker');
    return fn(tx);
  });
}
