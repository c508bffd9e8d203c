import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadMigrations, MIGRATIONS_DIR, SCHEMA_MIGRATIONS_DDL } from '../migrations.ts';

/** `database/migrate_to_target_schema.sql`: generated from the migrations, never by hand. */
export const TARGET_SCHEMA_FILE = fileURLToPath(
  new URL('../../../database/migrate_to_target_schema.sql', import.meta.url),
);

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The whole target schema as one script for `psql -f` on an empty database: the
 * schema_migrations table, every migration in order, and the rows recording each as
 * applied (same checksums as `migrate`), so `asora migrate` afterwards is a no-op.
 * One transaction: a failure anywhere leaves the database as it was.
 */
export async function renderTargetSchema(dir = MIGRATIONS_DIR): Promise<string> {
  const migrations = await loadMigrations(dir);
  const parts = [
    '-- Asora canonical schema: the whole target schema in one script, for an empty database.',
    '-- GENERATED from database/migrations by `asora schema target --write`. Do not edit by hand:',
    '-- a test fails when this file and the migrations disagree.',
    '--',
    '--   psql -v ON_ERROR_STOP=1 -f database/migrate_to_target_schema.sql "$DATABASE_URL"',
    '--',
    '-- It records every migration in schema_migrations, so `asora migrate` afterwards is a no-op.',
    '',
    'BEGIN;',
    '',
    `${SCHEMA_MIGRATIONS_DDL};`,
  ];
  for (const m of migrations) {
    parts.push(
      '',
      `-- ======================================== migration ${m.version}_${m.name}`,
      '',
      m.sql.trimEnd(),
      '',
      `INSERT INTO schema_migrations (version, name, checksum) VALUES (${sqlString(m.version)}, ${sqlString(m.name)}, ${sqlString(m.checksum)});`,
    );
  }
  parts.push('', 'COMMIT;', '');
  return parts.join('\n');
}

export interface TargetFileState {
  path: string;
  upToDate: boolean;
}

/** Whether the file on disk is what the generator produces now. */
export async function checkTargetSchemaFile(
  file = TARGET_SCHEMA_FILE,
  dir = MIGRATIONS_DIR,
): Promise<TargetFileState> {
  const want = await renderTargetSchema(dir);
  const have = await readFile(file, 'utf8').catch(() => '');
  return { path: file, upToDate: have === want };
}

export async function writeTargetSchemaFile(
  file = TARGET_SCHEMA_FILE,
  dir = MIGRATIONS_DIR,
): Promise<string> {
  const sql = await renderTargetSchema(dir);
  await writeFile(file, sql);
  return sql;
}
