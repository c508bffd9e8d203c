import { randomUUID } from 'node:crypto';
import { asAnonymous, type UserRole } from '../canonical/session.ts';
import { insertEmailIdentity } from '../canonical/tables/auth-identities.ts';
import { insertProfile, profileSnapshot } from '../canonical/tables/profiles.ts';
import {
  emailTaken,
  insertUser,
  passwordParams,
  verifyPassword,
} from '../canonical/tables/users.ts';
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

const emailTakenError = () =>
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
      if (await emailTaken(tx, input.email)) throw emailTakenError();
      await actAs(id);
      await insertUser(tx, id, input.email, passwordHash);
      await insertEmailIdentity(tx, id, input.email);
      const s = profileSnapshot(await insertProfile(tx, id, input.displayName));
      await emit(tx, { type: 'profile', id }, 'profile.updated', s);
      return s;
    });
    await writeProfileDoc(ctx, snapshot);
  } catch (err) {
    // Two registrations racing for one email: the unique constraint decides.
    if (sqlState(err) === UNIQUE_VIOLATION) throw emailTakenError();
    throw err;
  }
  return { id, email: input.email, role: 'user' };
}

/** Login by email and password; the same error (and about the same time) for either mismatch. */
export async function login(ctx: DomainContext, input: LoginInput): Promise<AuthUser> {
  // Unknown emails get decoy parameters, so both paths derive a key (same time).
  const params = await asAnonymous(ctx.db, (tx) => passwordParams(tx, input.email));
  const key = await deriveKey(input.password, params);
  const found = key
    ? await asAnonymous(ctx.db, (tx) => verifyPassword(tx, input.email, key))
    : undefined;
  if (!found) throw new UnauthenticatedError('wrong email or password');
  return { id: found.userId, email: input.email, role: found.role };
}
