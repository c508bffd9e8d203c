import type { UserRole } from '../../events/vocabulary.ts';
import type { Db, Queryable } from '../../sql/db.ts';
import { asWorker } from '../session.ts';
import { iso, NOW_MS } from '../time.ts';

/**
 * The users table and the definer functions over it (0004, 0006): callers under RLS ask
 * those, since the application roles cannot read other users' rows.
 */

/** Which of these accounts exist and are not deleted. */
export function liveUsers(db: Db, ids: string[]): Promise<Set<string>> {
  return asWorker(db, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      'SELECT id::text AS id FROM users WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL',
      [ids],
    );
    return new Set(rows.map((r) => r.id));
  });
}

/** Whether this account exists and is not deleted (as a worker: it reads users directly). */
export async function isLiveUser(tx: Queryable, userId: string): Promise<boolean> {
  const { rows } = await tx.query('SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL', [
    userId,
  ]);
  return rows.length > 0;
}

/** Whether a live (not deleted) user exists; a definer function, so it works under any RLS session. */
export async function userExists(tx: Queryable, userId: string): Promise<boolean> {
  const { rows } = await tx.query('SELECT 1 FROM auth_session_user($1::uuid)', [userId]);
  return rows.length > 0;
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

export interface UserRow {
  id: string;
  email: string;
  role: UserRole;
  created_at: unknown;
  updated_at: unknown;
}

/** The caller's own users row (RLS shows no other), or undefined. */
export async function readOwnUser(tx: Queryable, userId: string): Promise<UserRow | undefined> {
  const { rows } = await tx.query<UserRow>(
    'SELECT id, email, role, created_at, updated_at FROM users WHERE id = $1',
    [userId],
  );
  return rows[0];
}

/** Whether an account (live or not) already has this email (auth_email_taken, definer). */
export async function emailTaken(tx: Queryable, email: string): Promise<boolean> {
  const { rows } = await tx.query<{ taken: boolean }>('SELECT auth_email_taken($1) AS taken', [
    email,
  ]);
  return rows[0]?.taken === true;
}

export async function insertUser(
  tx: Queryable,
  id: string,
  email: string,
  passwordHash: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, ${NOW_MS}, ${NOW_MS})`,
    [id, email, passwordHash],
  );
}

/** The key-derivation parameters for an email (decoys for an unknown one: auth_password_params). */
export async function passwordParams(tx: Queryable, email: string): Promise<string> {
  const { rows } = await tx.query<{ params: string }>('SELECT auth_password_params($1) AS params', [
    email,
  ]);
  return rows[0]!.params;
}

/** The account an email and derived key belong to, or undefined (auth_verify_password). */
export async function verifyPassword(
  tx: Queryable,
  email: string,
  key: string,
): Promise<{ userId: string; role: UserRole } | undefined> {
  const { rows } = await tx.query<{ user_id: string; role: UserRole }>(
    'SELECT user_id, role FROM auth_verify_password($1, $2)',
    [email, key],
  );
  return rows[0] && { userId: rows[0].user_id, role: rows[0].role };
}

/**
 * Soft-deletes an account: the email becomes a unique placeholder (so it can register
 * again) and the password is dropped. Returns when it was deleted.
 */
export async function softDeleteUser(tx: Queryable, userId: string): Promise<string> {
  const { rows } = await tx.query<{ deleted_at: unknown }>(
    `UPDATE users SET email = 'deleted+' || id::text || '@deleted.invalid', password_hash = NULL,
            updated_at = ${NOW_MS}, deleted_at = ${NOW_MS}
      WHERE id = $1 RETURNING deleted_at`,
    [userId],
  );
  return iso(rows[0]!.deleted_at);
}

/** The ids of every live account in id order, or of `sample` of them chosen at random. */
export async function liveUserIds(tx: Queryable, sample?: number): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    sample === undefined
      ? 'SELECT id::text FROM users WHERE deleted_at IS NULL ORDER BY id'
      : 'SELECT id::text FROM users WHERE deleted_at IS NULL ORDER BY random() LIMIT $1',
    sample === undefined ? [] : [sample],
  );
  return rows.map((r) => r.id);
}

/** An account by email (case-insensitive), locked for a role change (FOR UPDATE). */
export async function lockUserByEmail(
  tx: Queryable,
  email: string,
): Promise<{ id: string; email: string; role: UserRole; deleted: boolean } | undefined> {
  const { rows } = await tx.query<{ id: string; email: string; role: UserRole; deleted: boolean }>(
    `SELECT id, email::text AS email, role, deleted_at IS NOT NULL AS deleted
       FROM users WHERE email = $1::citext FOR UPDATE`,
    [email],
  );
  return rows[0];
}

/** Sets users.role (the owner connection only: application roles cannot update it). */
export async function setUserRole(tx: Queryable, userId: string, role: UserRole): Promise<void> {
  await tx.query('UPDATE users SET role = $2, updated_at = now() WHERE id = $1', [userId, role]);
}

/**
 * Bulk-creates email accounts (the seed): users rows and their email identities, one
 * statement each. Every account gets the same password hash and creation time.
 */
export async function insertEmailAccounts(
  tx: Queryable,
  accounts: { id: string; email: string }[],
  passwordHash: string,
  createdAt: string,
): Promise<void> {
  const ids = accounts.map((a) => a.id);
  const emails = accounts.map((a) => a.email);
  await tx.query(
    `INSERT INTO users (id, email, password_hash, created_at, updated_at)
     SELECT id, email, $3, $4, $4 FROM unnest($1::uuid[], $2::text[]) AS x(id, email)`,
    [ids, emails, passwordHash, createdAt],
  );
  await tx.query(
    `INSERT INTO auth_identities (user_id, provider, provider_subject)
     SELECT id, 'email', email FROM unnest($1::uuid[], $2::text[]) AS x(id, email)`,
    [ids, emails],
  );
}
