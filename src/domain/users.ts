import type { Queryable } from '../sql/db.ts';

/** Whether a live (not deleted) user exists; a definer function, so it works under any RLS session. */
export async function userExists(tx: Queryable, userId: string): Promise<boolean> {
  const { rows } = await tx.query('SELECT 1 FROM auth_session_user($1::uuid)', [userId]);
  return rows.length > 0;
}
