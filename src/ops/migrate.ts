import type { Command } from 'commander';
import { connectCanonical } from '../canonical/connect.ts';
import { migrate } from '../canonical/migrations.ts';
import { loadConfig } from '../config/config.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description(
      'apply pending canonical migrations (database/migrations) to DATABASE_URL or the embedded store',
    )
    .action(async () => {
      const config = loadConfig();
      const { db, close } = await connectCanonical(config);
      try {
        const r = await migrate(db);
        console.log(
          r.applied.length
            ? `applied ${r.applied.length} migration(s): ${r.applied.join(', ')}`
            : `schema is up to date (${r.alreadyApplied.length} migration(s) applied)`,
        );
      } finally {
        await close();
      }
    });
}
