import type { ProfileSnapshot } from '../outbox/events.ts';
import { CONTAINERS, type PublicProfileDoc } from '../readmodel/documents.ts';
import { upsertIfNewer } from '../readmodel/guarded-write.ts';
import type { Queryable } from '../sql/db.ts';
import type { DomainContext } from './context.ts';
import { iso } from './time.ts';

export interface ProfileRow {
  user_id: string;
  display_name: string;
  bio: string | null;
  avatar_url: string | null;
  privacy_level: ProfileSnapshot['privacyLevel'];
  version: number;
  updated_at: unknown;
}

export const PROFILE_COLUMNS =
  'user_id, display_name, bio, avatar_url, privacy_level, version, updated_at';

export const profileSnapshot = (r: ProfileRow): ProfileSnapshot => ({
  userId: r.user_id,
  displayName: r.display_name,
  bio: r.bio,
  avatarUrl: r.avatar_url,
  privacyLevel: r.privacy_level,
  version: Number(r.version),
  updatedAt: iso(r.updated_at),
});

export async function readOwnProfile(
  tx: Queryable,
  userId: string,
): Promise<ProfileRow | undefined> {
  const { rows } = await tx.query<ProfileRow>(
    `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE user_id = $1`,
    [userId],
  );
  return rows[0];
}

/**
 * Best-effort direct write of publicProfiles after a committed change, so the owner reads
 * their own edit at once; the relay writes the same version later (version-guarded).
 */
export async function writeProfileDoc(ctx: DomainContext, s: ProfileSnapshot): Promise<void> {
  const doc: PublicProfileDoc = {
    id: s.userId,
    userId: s.userId,
    displayName: s.displayName,
    bio: s.bio,
    avatarUrl: s.avatarUrl,
    privacyLevel: s.privacyLevel,
    sourceVersion: s.version,
    updatedAt: s.updatedAt,
  };
  try {
    await upsertIfNewer(ctx.store.container(CONTAINERS.publicProfiles), doc);
  } catch (err) {
    ctx.log.warn(
      { err, userId: s.userId },
      'direct publicProfiles write failed; the relay will repair it',
    );
  }
}
