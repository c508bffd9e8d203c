import type { ProfileSnapshot } from '../../events/catalogue.ts';
import type { Queryable } from '../../sql/db.ts';
import { iso } from '../time.ts';

/** The profiles table: its row, columns and row → snapshot mapping. */
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
