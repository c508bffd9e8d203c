import { NotFoundError, ValidationError } from '../errors.ts';
import { USER_ROLES, type UserRole } from '../events/vocabulary.ts';
import type { Db } from '../sql/db.ts';
import { insertAuditEntry } from './tables/audit-log.ts';
import { lockUserByEmail, setUserRole } from './tables/users.ts';

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
    const user = await lockUserByEmail(tx, trimmed);
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
    await setUserRole(tx, user.id, role);
    await insertAuditEntry(tx, {
      actorId: opts.actorId ?? null,
      action: 'user.role_granted',
      subjectType: 'user',
      subjectId: user.id,
      details: { from: user.role, to: role, via: 'cli', actor: opts.actor ?? null },
    });
    return change;
  });
}
