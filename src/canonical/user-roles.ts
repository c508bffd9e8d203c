import { NotFoundError, ValidationError } from '../errors.ts';
import { USER_ROLES, type UserRole } from '../events/vocabulary.ts';
import type { Db } from '../sql/db.ts';

export { USER_ROLES };

export const isUserRole = (v: string): v is UserRole =>
  (USER_ROLES as readonly string[]).includes(v);

export interface RoleChange {
  userId: string;
  email: string;
  previousRole: UserRole;
  role: UserRole;
  /** False when the user already had the role (nothing changed, nothing audited). */
  changed: boolean;
}

/**
 * Sets a user's role (users.role), which `asUser` reads on every transaction, and
 * records it in audit_log, in one transaction. Runs on the owner connection: the
 * application roles cannot update `role` at all (column privileges). `actor` is a
 * free-text description of who did it (e.g. the operator's OS user) for the audit row.
 */
export async function grantRole(
  db: Db,
  email: string,
  role: string,
  opts: { actor?: string; actorId?: string } = {},
): Promise<RoleChange> {
  if (!isUserRole(role)) {
    throw new ValidationError(`unknown role '${role}': expected one of ${USER_ROLES.join(', ')}`);
  }
  const trimmed = email.trim();
  if (!trimmed) throw new ValidationError('an email is required');
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{
      id: string;
      email: string;
      role: UserRole;
      deleted: boolean;
    }>(
      `SELECT id, email::text AS email, role, deleted_at IS NOT NULL AS deleted
         FROM users WHERE email = $1::citext FOR UPDATE`,
      [trimmed],
    );
    const user = rows[0];
    if (!user) throw new NotFoundError(`no user with email ${trimmed}`);
    if (user.deleted) throw new NotFoundError(`the account ${user.email} has been deleted`);
    const change: RoleChange = {
      userId: user.id,
      email: user.email,
      previousRole: user.role,
      role,
      changed: user.role !== role,
    };
    if (!change.changed) return change;
    await tx.query('UPDATE users SET role = $2, updated_at = now() WHERE id = $1', [user.id, role]);
    await tx.query(
      `INSERT INTO audit_log (actor_id, action, subject_type, subject_id, details)
       VALUES ($1, 'user.role_granted', 'user', $2, $3::jsonb)`,
      [
        opts.actorId ?? null,
        user.id,
        JSON.stringify({ from: user.role, to: role, via: 'cli', actor: opts.actor ?? null }),
      ],
    );
    return change;
  });
}
