import type { Command } from 'commander';
import { connectCanonical } from '../canonical/connect.ts';
import { formatDrift } from '../canonical/schema-verify/diff.ts';
import {
  checkTargetSchemaFile,
  renderTargetSchema,
  TARGET_SCHEMA_FILE,
  writeTargetSchemaFile,
} from '../canonical/schema-verify/target.ts';
import { verifySchema } from '../canonical/schema-verify/verify.ts';
import { loadConfig } from '../config/config.ts';
import { ValidationError } from '../errors.ts';
import { createPgDb } from '../sql/pg.ts';

export function registerSchema(program: Command): void {
  const schema = program
    .command('schema')
    .description('the canonical schema: drift check and target file');

  schema
    .command('verify')
    .description(
      'compare the live catalog (DATABASE_URL or the embedded store) with what the migrations produce; exit 1 on drift',
    )
    .option('--url <postgres-url>', 'check this database instead of the configured one')
    .action(async (opts: { url?: string }) => {
      const { db, close } = opts.url ? single(opts.url) : await connectCanonical(loadConfig());
      try {
        const r = await verifySchema(db);
        if (r.drift.length === 0) {
          console.log(`schema matches the migrations (${r.expectedObjects} objects compared)`);
          return;
        }
        console.log(formatDrift(r.drift));
        if (r.appliedMigrations === 0)
          console.log('\nno migrations are recorded in this database: run `asora migrate`');
        console.log(
          `\nschema drift: ${r.drift.length} difference(s) (- expected by the migrations, missing; ` +
            '+ present, not in the migrations; ~ differs: expected → actual)',
        );
        process.exitCode = 1;
      } finally {
        await close();
      }
    });

  schema
    .command('target')
    .description('print database/migrate_to_target_schema.sql as generated from the migrations')
    .option('--write', 'write the file instead of printing it')
    .option('--check', 'exit 1 when the file on disk differs from the generated one')
    .action(async (opts: { write?: boolean; check?: boolean }) => {
      if (opts.check) {
        const s = await checkTargetSchemaFile();
        console.log(
          s.upToDate
            ? `${s.path} is up to date`
            : `${s.path} is stale: run asora schema target --write`,
        );
        if (!s.upToDate) process.exitCode = 1;
        return;
      }
      if (opts.write) {
        await writeTargetSchemaFile();
        console.log(`wrote ${TARGET_SCHEMA_FILE}`);
        return;
      }
      process.stdout.write(await renderTargetSchema());
    });
}

function single(url: string) {
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new ValidationError('--url must be a postgres:// URL');
  const db = createPgDb(url, { max: 2, applicationName: 'asora-schema-verify' });
  return { db, close: () => db.close() };
}
