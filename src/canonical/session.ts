import { UnauthenticatedError } from '../errors.ts';
import type { Db, Queryable } from '../sql/db.ts';

export type { UserRole } from '../events/vocabulary.ts';

import type { UserRole } from '../events/vocabulary.ts';

export interface Caller {
  userId: string;
  role: UserRole;
}

/** Database role a caller's transaction runs as: RLS policies are written against these. */
const dbRoleFor = (role: UserRole) => (role === 'user' ? 'asora_app' : 'asora_admin');

/**
 * Runs fn in one transaction as the caller: `SET LOCAL ROLE` to a non-owner role and
 * `app.current_user_id` set, so Row Level Security applies to every statement. The
 * caller's role is read from the users row (not trusted from a token), and a deleted
 * or unknown user is refused.
 */
export function asUser<T>(
  db: Db,
  userId: string,
  fn: (tx: Queryable, caller: Caller) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ role: UserRole }>(
      'SELECT role FROM auth_session_user($1::uuid)',
      [userId],
    );
    const row = rows[0];
    if (!row) throw new UnauthenticatedError('the account no longer exists');
    await tx.exec(`SET LOCAL ROLE ${dbRoleFor(row.role)}`);
    await tx.query(`SELECT set_config('app.current_user_id', $1, true)`, [userId]);
    return fn(tx, { userId, role: row.role });
  });
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
    return fn(tx, actAs);
  });
}

/** Runs fn as the background-worker role (relay, processors, runbooks). */
export function asWorker<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.exec('SET LOCAL ROLE asora_worker');
    return fn(tx);
  });
}
