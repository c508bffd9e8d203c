import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMigrations, MIGRATIONS_DIR, migrate } from '../../src/canonical/migrations.ts';
import {
  engineName,
  type ScratchDb,
  scratchDb,
  serverUrl,
  someoneWaitsOn,
} from '../support/databases.ts';

// Each test starts its own PGlite (seconds; much more on a loaded machine).
describe(`migrations (${engineName})`, { timeout: 120_000 }, () => {
  let s: ScratchDb | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('applies every migration once and records checksums', async () => {
    s = await scratchDb();
    const first = await migrate(s.db);
    const all = await loadMigrations();
    expect(first.applied).toEqual(all.map((m) => m.version));
    const second = await migrate(s.db);
    expect(second.applied).toEqual([]);
    const { rows } = await s.db.query<{ version: string; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations ORDER BY version',
    );
    expect(rows).toEqual(all.map((m) => ({ version: m.version, checksum: m.checksum })));
  });

  it('refuses an applied migration whose file was edited', async () => {
    s = await scratchDb();
    const dir = await mkdtemp(path.join(tmpdir(), 'asora-mig-'));
    await writeFile(path.join(dir, '0001_t.sql'), 'CREATE TABLE t1 (id int);');
    await migrate(s.db, dir);
    await writeFile(path.join(dir, '0001_t.sql'), 'CREATE TABLE t1 (id bigint);');
    await expect(migrate(s.db, dir)).rejects.toThrow(/0001_t was edited after it was applied/);
    expect(MIGRATIONS_DIR).toMatch(/database\/migrations\/$/);
  });

  it('rolls back a failing migration completely', async () => {
    s = await scratchDb();
    const dir = await mkdtemp(path.join(tmpdir(), 'asora-mig-'));
    await writeFile(path.join(dir, '0001_bad.sql'), 'CREATE TABLE t2 (id int); SELECT 1/0;');
    await expect(migrate(s.db, dir)).rejects.toThrow(/division by zero/);
    const { rows } = await s.db.query(`SELECT to_regclass('t2') AS t`);
    expect(rows[0]).toEqual({ t: null });
    const applied = await s.db.query('SELECT * FROM schema_migrations');
    expect(applied.rowCount).toBe(0);
  });

  it.skipIf(!serverUrl)(
    'gives up on a table lock held by a long transaction, so reads queued behind it wait at most the lock timeout, and applies at the next start',
    async () => {
      s = await scratchDb();
      const db = s.db;
      const dir = await mkdtemp(path.join(tmpdir(), 'asora-mig-'));
      await writeFile(path.join(dir, '0001_t.sql'), 'CREATE TABLE t3 (id int);');
      await migrate(db, dir);
      await writeFile(path.join(dir, '0002_col.sql'), 'ALTER TABLE t3 ADD COLUMN n int;');
      // Short: a waiting ALTER TABLE holds a transaction id, which pauses every change feed on
      // the shared test server while it waits.
      const waitMs = 500;
      await db.transaction(async (long) => {
        await long.query('SELECT count(*) FROM t3'); // a reader holding ACCESS SHARE throughout
        const started = Date.now();
        const failed = expect(migrate(db, dir, { lockTimeoutMs: waitMs })).rejects.toThrow(
          /lock timeout/,
        );
        await someoneWaitsOn(db, 't3');
        // Queued behind the waiting ALTER TABLE: served once it gives up (before, never while
        // the long transaction lasted).
        await db.transaction(async (tx) => {
          await tx.exec(`SET LOCAL statement_timeout = '${waitMs + 2_000}ms'`);
          await tx.query('SELECT count(*) FROM t3');
        });
        await failed;
        expect(Date.now() - started).toBeLessThan(waitMs + 2_000);
      });
      expect((await migrate(db, dir)).applied).toEqual(['0002']);
    },
  );
});
