import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from '../sql/db.ts';
import { boundLockWaits } from '../sql/ddl-lock.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../database/migrations/', import.meta.url));

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** The bookkeeping table; also part of the target schema file so both yield one catalog. */
export const SCHEMA_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    text PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

const MIGRATION_LOCK = `SELECT pg_advisory_xact_lock(hashtext('asora_migrate'))`;

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await readFile(path.join(dir, file), 'utf8');
      const [version, ...rest] = file.replace(/\.sql$/, '').split('_');
      return {
        version: version!,
        name: rest.join('_'),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    }),
  );
}

/**
 * Applies pending migrations in order, each in its own transaction, under an advisory
 * lock so concurrent starters do not race. Refuses to run when an applied migration's
 * file has changed since (forward-only: write a new migration instead).
 */
export async function migrate(
  db: Db,
  dir = MIGRATIONS_DIR,
  /** Bound on each statement's lock wait (default DDL_LOCK_TIMEOUT_MS). */
  opts: { lockTimeoutMs?: number } = {},
): Promise<MigrateResult> {
  const migrations = await loadMigrations(dir);
  // The lock comes first: two processes starting on an empty database must not both
  // create schema_migrations (its CREATE ... IF NOT EXISTS races on the catalog).
  await db.transaction(async (tx) => {
    await tx.query(MIGRATION_LOCK);
    await tx.exec(SCHEMA_MIGRATIONS_DDL);
  });
  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  for (const m of migrations) {
    await db.transaction(async (tx) => {
      await tx.query(MIGRATION_LOCK);
      const { rows } = await tx.query<{ checksum: string }>(
        'SELECT checksum FROM schema_migrations WHERE version = $1',
        [m.version],
      );
      const done = rows[0];
      if (done) {
        if (done.checksum !== m.checksum) {
          throw new MigrationError(
            `migration ${m.version}_${m.name} was edited after it was applied ` +
              `(checksum ${done.checksum.slice(0, 12)} in the database, ${m.checksum.slice(0, 12)} on disk); ` +
              'migrations are forward-only: restore the file and add a new migration',
          );
        }
        result.alreadyApplied.push(m.version);
        return;
      }
      await boundLockWaits(tx, opts.lockTimeoutMs);
      await tx.exec(m.sql);
      await tx.query(
        'INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
        [m.version, m.name, m.checksum],
      );
      result.applied.push(m.version);
    });
  }
  return result;
}
