import { asUser, type UserRole } from '../canonical/session.ts';
import {
  profileSnapshot,
  readProfile,
  readVisibleProfile,
  updateProfileRow,
} from '../canonical/tables/profiles.ts';
import { readOwnUser } from '../canonical/tables/users.ts';
import { iso } from '../canonical/time.ts';
import { NotFoundError } from '../errors.ts';
import type { PrivacyLevel } from '../events/catalogue.ts';
import { emit } from '../events/emit.ts';
import { CONTAINERS, type PublicProfileDoc } from '../readmodel/documents.ts';
import type { DomainContext } from './context.ts';
import { type ProfileCounts, profileCounts } from './counts.ts';
import { writeProfileDoc } from './profile-doc.ts';
import type { ProfilePatch } from './schemas.ts';

export interface Profile {
  userId: string;
  displayName: string;
  bio: string | null;
  avatarUrl: string | null;
  privacyLevel: PrivacyLevel;
  counts: ProfileCounts;
}

export interface Me {
  user: { id: string; email: string; role: UserRole; createdAt: string };
  profile: Profile;
}

async function present(
  ctx: DomainContext,
  p: {
    userId: string;
    displayName: string;
    bio: string | null;
    avatarUrl: string | null;
    privacyLevel: PrivacyLevel;
  },
): Promise<Profile> {
  return {
    userId: p.userId,
    displayName: p.displayName,
    bio: p.bio,
    avatarUrl: p.avatarUrl,
    privacyLevel: p.privacyLevel,
    counts: await profileCounts(ctx, p.userId),
  };
}

/** The caller's own user row and profile, from canonical (read-your-writes). */
export async function getMe(ctx: DomainContext, userId: string): Promise<Me> {
  const { user, profile } = await asUser(ctx.db, userId, async (tx) => {
    return { user: await readOwnUser(tx, userId), profile: await readProfile(tx, userId) };
  });
  if (!user || !profile) throw new NotFoundError('account not found');
  return {
    user: { id: user.id, email: user.email, role: user.role, createdAt: iso(user.created_at) },
    profile: await present(ctx, profileSnapshot(profile)),
  };
}

/** PATCH /me/profile: canonical update + profile.updated, then publicProfiles directly. */
export async function updateProfile(
  ctx: DomainContext,
  userId: string,
  patch: ProfilePatch,
): Promise<Profile> {
  const snapshot = await asUser(ctx.db, userId, async (tx) => {
    const current = await readProfile(tx, userId);
    if (!current) throw new NotFoundError('profile not found');
    const row = await updateProfileRow(tx, userId, {
      display_name: patch.displayName ?? current.display_name,
      bio: patch.bio === undefined ? current.bio : patch.bio,
      avatar_url: patch.avatarUrl === undefined ? current.avatar_url : patch.avatarUrl,
      privacy_level: patch.privacyLevel ?? current.privacy_level,
    });
    const s = profileSnapshot(row);
    await emit(tx, { type: 'profile', id: userId }, 'profile.updated', s);
    return s;
  });
  await writeProfileDoc(ctx, snapshot);
  return present(ctx, snapshot);
}

/**
 * A user's profile from publicProfiles. Profiles that are not public (or not projected yet)
 * are read from canonical, where RLS applies the privacy level for the caller.
 */
export async function getProfile(
  ctx: DomainContext,
  userId: string,
  subjectId: string,
): Promise<Profile> {
  const { resource } = await ctx.store
    .container(CONTAINERS.publicProfiles)
    .read<PublicProfileDoc>(subjectId, subjectId);
  if (
    resource &&
    !resource.deleted &&
    (resource.privacyLevel === 'public' || subjectId === userId)
  ) {
    return present(ctx, resource);
  }
  const row = await asUser(ctx.db, userId, (tx) => readVisibleProfile(tx, subjectId));
  if (!row) throw new NotFoundError('profile not found');
  return present(ctx, profileSnapshot(row));
}
