import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/canonical/migrations.ts';
import { snapshotCatalog } from '../../src/canonical/schema-verify/catalog.ts';
import { diffCatalogs, formatDrift } from '../../src/canonical/schema-verify/diff.ts';
import {
  checkTargetSchemaFile,
  renderTargetSchema,
  TARGET_SCHEMA_FILE,
} from '../../src/canonical/schema-verify/target.ts';
import { verifySchema } from '../../src/canonical/schema-verify/verify.ts';
import { canonicalDb, engineName, type ScratchDb, scratchDb } from '../support/databases.ts';

const run = promisify(execFile);

async function hasPsql(): Promise<boolean> {
  try {
    await run('psql', ['--version']);
    return true;
  } catch {
    return false;
  }
}

describe(`target schema file (${engineName})`, () => {
  let empty: ScratchDb;
  let migrated: ScratchDb;

  beforeAll(async () => {
    empty = await scratchDb();
    migrated = await canonicalDb();
  }, 180_000);
  afterAll(async () => {
    await empty?.close();
    await migrated?.close();
  });

  it('is exactly what the generator produces from the migrations now', async () => {
    const onDisk = await readFile(TARGET_SCHEMA_FILE, 'utf8');
    const generated = await renderTargetSchema();
    // On failure: run `node bin/asora.mjs schema target --write`.
    expect(onDisk === generated, 'database/migrate_to_target_schema.sql is stale').toBe(true);
    expect(await checkTargetSchemaFile()).toMatchObject({ upToDate: true });
    for (const m of await loadMigrations()) {
      expect(generated).toContain(m.sql.trimEnd());
      expect(generated).toContain(`'${m.version}', '${m.name}', '${m.checksum}'`);
    }
  });

  /** Runs a script the documented way (psql -f) on a server, else through exec. */
  async function runScript(file: string, sql: string): Promise<void> {
    if (empty.url && (await hasPsql())) {
      const { stderr } = await run('psql', [
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-f',
        file,
        empty.url,
      ]);
      expect(stderr).not.toMatch(/ERROR/);
      return;
    }
    try {
      await empty.db.exec(sql);
    } catch (err) {
      // One query string: the statements after the error, COMMIT included, were skipped.
      await empty.db.exec('ROLLBACK');
      throw err;
    }
  }

  it('is one transaction: a failure part-way leaves the database untouched', async () => {
    const s = await renderTargetSchema();
    const broken = s.replace('CREATE TABLE posts (', 'CREATE TABLE posts (broken nosuchtype, ');
    expect(broken).not.toBe(s);
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'asora-target-')), 'broken.sql');
    await writeFile(file, broken);
    await expect(runScript(file, broken)).rejects.toThrow(/nosuchtype/);
    const { rows } = await empty.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`,
    );
    expect(rows[0]!.n).toBe(0);
  }, 120_000);

  it('yields on an empty database the same catalog as running the migrations', async () => {
    const before = await verifySchema(empty.db);
    expect(before.appliedMigrations).toBe(0);
    expect(formatDrift(before.drift)).toContain('- table users: row level security enabled');

    await runScript(TARGET_SCHEMA_FILE, await readFile(TARGET_SCHEMA_FILE, 'utf8'));

    // Same engine, both ways: identical catalogs (migration rows included).
    const fromFile = await snapshotCatalog(empty.db);
    const fromMigrations = await snapshotCatalog(migrated.db);
    expect(formatDrift(diffCatalogs(fromMigrations, fromFile))).toBe('');
    // And against the verifier's own expectation (PGlite): no drift.
    expect(formatDrift((await verifySchema(empty.db)).drift)).toBe('');
    // The file recorded the migrations, so migrate afterwards has nothing to do.
    const again = await migrate(empty.db);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual((await loadMigrations()).map((m) => m.version));
  }, 120_000);
});
