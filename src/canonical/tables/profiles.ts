import type { ProfileSnapshot } from '../../events/catalogue.ts';
import type { Queryable } from '../../sql/db.ts';
import { iso, NOW_MS } from '../time.ts';
import type { KeyedScan } from './keyed-scan.ts';
import { userExists } from './users.ts';

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

/** A profile row by user id (under RLS: one the caller may see). */
export async function readProfile(tx: Queryable, userId: string): Promise<ProfileRow | undefined> {
  const { rows } = await tx.query<ProfileRow>(
    `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE user_id = $1`,
    [userId],
  );
  return rows[0];
}

export async function insertProfile(
  tx: Queryable,
  userId: string,
  displayName: string,
): Promise<ProfileRow> {
  const { rows } = await tx.query<ProfileRow>(
    `INSERT INTO profiles (user_id, display_name, created_at, updated_at) VALUES ($1, $2, ${NOW_MS}, ${NOW_MS})
     RETURNING ${PROFILE_COLUMNS}`,
    [userId, displayName],
  );
  return rows[0]!;
}

/** Writes every editable field (the caller merges a patch into the current row), version bumped. */
export async function updateProfileRow(
  tx: Queryable,
  userId: string,
  p: Pick<ProfileRow, 'display_name' | 'bio' | 'avatar_url' | 'privacy_level'>,
): Promise<ProfileRow> {
  const { rows } = await tx.query<ProfileRow>(
    `UPDATE profiles SET display_name = $2, bio = $3, avatar_url = $4, privacy_level = $5,
            version = version + 1, updated_at = ${NOW_MS}
      WHERE user_id = $1 RETURNING ${PROFILE_COLUMNS}`,
    [userId, p.display_name, p.bio, p.avatar_url, p.privacy_level],
  );
  return rows[0]!;
}

export async function deleteProfile(tx: Queryable, userId: string): Promise<void> {
  await tx.query('DELETE FROM profiles WHERE user_id = $1', [userId]);
}

/** A live user's profile as the caller may see it (profiles RLS applies the privacy level). */
export async function readVisibleProfile(
  tx: Queryable,
  userId: string,
): Promise<ProfileRow | undefined> {
  if (!(await userExists(tx, userId))) return undefined;
  return readProfile(tx, userId);
}

/** A profile row for the reconciler, with whether its account is deleted. */
export interface ProfileCheckRow extends ProfileRow {
  user_gone: boolean;
}

/** Every profile with its account's state, scanned by user id (the reconciler's view). */
export const PROFILE_SCAN: KeyedScan<ProfileCheckRow> = {
  table: 'profiles',
  key: 'user_id',
  select: `SELECT ${PROFILE_COLUMNS.split(', ')
    .map((c) => `p.${c}`)
    .join(', ')}, (u.deleted_at IS NOT NULL) AS user_gone
             FROM profiles p JOIN users u ON u.id = p.user_id`,
  keyOf: (r) => r.user_id,
};

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
