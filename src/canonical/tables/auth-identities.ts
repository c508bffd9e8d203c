import type { Queryable } from '../../sql/db.ts';

/** The auth_identities table: how a user signs in (today: their email). */
export interface IdentityRow {
  provider: string;
  provider_subject: string;
  created_at: unknown;
}

export async function insertEmailIdentity(
  tx: Queryable,
  userId: string,
  email: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO auth_identities (user_id, provider, provider_subject) VALUES ($1, 'email', $2)`,
    [userId, email.toLowerCase()],
  );
}

export async function identitiesOf(tx: Queryable, userId: string): Promise<IdentityRow[]> {
  const { rows } = await tx.query<IdentityRow>(
    'SELECT provider, provider_subject, created_at FROM auth_identities WHERE user_id = $1',
    [userId],
  );
  return rows;
}

export async function deleteIdentities(tx: Queryable, userId: string): Promise<void> {
  await tx.query('DELETE FROM auth_identities WHERE user_id = $1', [userId]);
}
