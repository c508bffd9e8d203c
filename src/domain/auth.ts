import { randomUUID } from 'node:crypto';
import { asAnonymous, type UserRole } from '../canonical/session.ts';
import { PROFILE_COLUMNS, type ProfileRow, profileSnapshot } from '../canonical/tables/profiles.ts';
import { NOW_MS } from '../canonical/time.ts';
import { ConflictError, UnauthenticatedError } from '../errors.ts';
import { emit } from '../events/emit.ts';
import type { DomainContext } from './context.ts';
import { deriveKey, hashPassword } from './password.ts';
import { sqlState, UNIQUE_VIOLATION } from './pg-errors.ts';
import { writeProfileDoc } from './profile-doc.ts';
import type { LoginInput, RegisterInput } from './schemas.ts';

export interface AuthUser {
  id: string;
  email: string;
  role: UserRole;
}

const emailTaken = () =>
  new ConflictError('an account with this email already exists', 'auth_email_taken');

/**
 * Registration: the user, its email identity and its profile in one transaction, with the
 * profile.updated event that builds publicProfiles.
 */
export async function register(ctx: DomainContext, input: RegisterInput): Promise<AuthUser> {
  const passwordHash = await hashPassword(input.password);
  const id = randomUUID();
  try {
    const snapshot = await asAnonymous(ctx.db, async (tx, actAs) => {
      const taken = await tx.query<{ taken: boolean }>('SELECT auth_email_taken($1) AS taken', [
        input.email,
      ]);
      if (taken.rows[0]?.taken) throw emailTaken();
      await actAs(id);
      await tx.query(
        `INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, ${NOW_MS}, ${NOW_MS})`,
        [id, input.email, passwordHash],
      );
      await tx.query(
        `INSERT INTO auth_identities (user_id, provider, provider_subject) VALUES ($1, 'email', $2)`,
        [id, input.email.toLowerCase()],
      );
      const { rows } = await tx.query<ProfileRow>(
        `INSERT INTO profiles (user_id, display_name, created_at, updated_at) VALUES ($1, $2, ${NOW_MS}, ${NOW_MS})
         RETURNING ${PROFILE_COLUMNS}`,
        [id, input.displayName],
      );
      const s = profileSnapshot(rows[0]!);
      await emit(tx, { type: 'profile', id }, 'profile.updated', s);
      return s;
    });
    await writeProfileDoc(ctx, snapshot);
  } catch (err) {
    // Two registrations racing for one email: the unique constraint decides.
    if (sqlState(err) === UNIQUE_VIOLATION) throw emailTaken();
    throw err;
  }
  return { id, email: input.email, role: 'user' };
}

/** Login by email and password; the same error (and about the same time) for either mismatch. */
export async function login(ctx: DomainContext, input: LoginInput): Promise<AuthUser> {
  // Unknown emails get decoy parameters, so both paths derive a key (same time).
  const params = await asAnonymous(ctx.db, async (tx) => {
    const { rows } = await tx.query<{ params: string }>(
      'SELECT auth_password_params($1) AS params',
      [input.email],
    );
    return rows[0]!.params;
  });
  const key = await deriveKey(input.password, params);
  const found = key
    ? await asAnonymous(ctx.db, async (tx) => {
        const { rows } = await tx.query<{ user_id: string; role: UserRole }>(
          'SELECT user_id, role FROM auth_verify_password($1, $2)',
          [input.email, key],
        );
        return rows[0];
      })
    : undefined;
  if (!found) throw new UnauthenticatedError('wrong email or password');
  return { id: found.user_id, email: input.email, role: found.role };
}
