import { sessionStatement } from '../canonical/session.ts';
import type { Db, Queryable } from '../sql/db.ts';

/** Whether a live (not deleted) user exists; a definer function, so it works under any RLS session. */
export async function userExists(tx: Queryable, userId: string): Promise<boolean> {
  const { rows } = await tx.query('SELECT 1 FROM auth_session_user($1::uuid)', [userId]);
  return rows.length > 0;
}

/**
 * Whether a live user exists, asked as the caller in one statement: the session function
 * refuses a deleted caller (401) exactly as a transaction under asUser would, and the
 * definer lookup needs no RLS, so no transaction is opened around it.
 */
export async function userExistsFor(db: Db, callerId: string, userId: string): Promise<boolean> {
  const { rows } = await sessionStatement(() =>
    db.query<{ found: boolean }>(
      'SELECT auth_begin_session($1::uuid) AS role, EXISTS (SELECT 1 FROM auth_session_user($2::uuid)) AS found',
      [callerId, userId],
    ),
  );
  return rows[0]!.found;
}

/**
 * Whether the caller may see this user's profile, and so their lists (followers, following,
 * posts): a live user whose privacy level admits the caller (the profiles RLS policy decides,
 * so this runs inside the caller's session).
 */
export async function userVisible(tx: Queryable, userId: string): Promise<boolean> {
  const { rows } = await tx.query(
    'SELECT 1 FROM auth_session_user($1::uuid) JOIN profiles p ON p.user_id = $1::uuid',
    [userId],
  );
  return rows.length > 0;
}
