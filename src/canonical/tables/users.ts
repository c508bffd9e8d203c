import type { Db } from '../../sql/db.ts';
import { asWorker } from '../session.ts';

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
