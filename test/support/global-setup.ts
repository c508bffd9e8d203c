import { migrate } from '../../src/canonical/migrations.ts';
import { scratchDb, serverUrl } from './databases.ts';

/**
 * Roles are cluster-wide on a PostgreSQL server: create them once, before parallel test
 * files migrate their own scratch databases.
 */
export default async function setup(): Promise<void> {
  if (!serverUrl) return;
  const s = await scratchDb();
  try {
    await migrate(s.db);
  } finally {
    await s.close();
  }
}
