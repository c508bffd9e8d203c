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

/** Bulk-creates public profiles at version 1 (the seed), one statement. */
export async function insertProfiles(
  tx: Queryable,
  rows: { userId: string; displayName: string; bio: string | null }[],
  createdAt: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO profiles (user_id, display_name, bio, created_at, updated_at)
     SELECT id, name, bio, $4, $4 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(id, name, bio)`,
    [rows.map((r) => r.userId), rows.map((r) => r.displayName), rows.map((r) => r.bio), createdAt],
  );
}

/** The profiles of many users (those that exist), in one query. */
export async function profilesOf(tx: Queryable, userIds: string[]): Promise<ProfileRow[]> {
  const { rows } = await tx.query<ProfileRow>(
    `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE user_id = ANY($1::uuid[])`,
    [userIds],
  );
  return rows;
}
