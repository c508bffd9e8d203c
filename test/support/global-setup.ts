import { migrate } from '../../src/canonical/migrations.ts';
import { ensureBuilt } from './build.ts';
import { scratchDb, serverUrl } from './databases.ts';

/**
 * The CLI's compiled build is brought up to date (tests spawn it). Roles are cluster-wide on a PostgreSQL server: create them once, before parallel test
 * files migrate their own scratch databases.
 */
export default async function setup(): Promise<void> {
  ensureBuilt();
  if (!serverUrl) return;
  const s = await scratchDb();
  try {
    await migrate(s.db);
  } finally {
    await s.close();
  }
}
