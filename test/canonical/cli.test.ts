import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/canonical/migrations.ts';
import type { Db } from '../../src/sql/db.ts';
import { createPgliteDb } from '../../src/sql/pglite.ts';
import { insertUser } from '../support/canon.ts';
import { engineName, type ScratchDb, scratchDb } from '../support/databases.ts';

const DRIFT = 'DROP INDEX posts_status_created_idx';
const BIN = fileURLToPath(new URL('../../bin/asora.mjs', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The real CLI in a child process, against the embedded store in a temporary DATA_DIR
 * (PGlite) or a scratch database on the server (DATABASE_URL).
 */
describe(`asora schema / users CLI (${engineName})`, () => {
  let dataDir: string;
  let server: ScratchDb | undefined;
  let env: NodeJS.ProcessEnv;

  /** The store the CLI uses, opened in-process between CLI runs to arrange or inspect. */
  async function withStore<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (server) return fn(server.db);
    const db = await createPgliteDb(path.join(dataDir, 'canonical'));
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  }

  function cli(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        { env, timeout: 170_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  // Each CLI run starts Node, tsx and (embedded) PGlite: seconds, more on a busy machine.
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'asora-cli-'));
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
    };
    if (engineName !== 'pglite') {
      server = await scratchDb();
      env.DATABASE_URL = server.url;
      env.JWT_SECRET = 'x'.repeat(32);
    }
    // Arrange: a migrated store with one user (the CLI's own migrate is tested elsewhere).
    // On PGlite the drift is made here too: every open of the store costs a start.
    await withStore(async (db) => {
      await migrate(db);
      await insertUser(db, { email: 'Ops@Example.com', profile: false });
      if (!server) await db.exec(DRIFT);
    });
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  // Server pass only: on PGlite each verify run costs two PGlite starts, and the
  // equal-catalog result is proved in-process by schema-verify.test.ts on both engines.
  it.runIf(engineName !== 'pglite')(
    'schema verify --url exits 0 on a migrated database (server pass only)',
    async () => {
      const ok = await cli('schema', 'verify', '--url', server!.url!);
      expect(ok.stderr).toBe('');
      expect(ok.stdout).toMatch(/^schema matches the migrations \(\d+ objects compared\)/);
      expect(ok.code).toBe(0);
    },
    180_000,
  );

  it('schema verify exits 1 and prints exactly the drift', async () => {
    if (server) await server.db.exec(DRIFT);
    const drift = await cli('schema', 'verify');
    expect(drift.stdout).toBe(
      '- index posts_status_created_idx: CREATE INDEX posts_status_created_idx ON public.posts USING btree (status, created_at DESC)\n\n' +
        'schema drift: 1 difference(s) (- expected by the migrations, missing; + present, not in the migrations; ~ differs: expected → actual)\n',
    );
    expect(drift.code).toBe(1);
  }, 180_000);

  it('users grant-role changes the role; unknown email or role exit 1 with a clear message', async () => {
    const ok = await cli('users', 'grant-role', 'ops@example.COM', 'moderator');
    expect(ok.stdout).toMatch(/Ops@Example\.com \([0-9a-f-]{36}\): role user → moderator/);
    expect(ok.code).toBe(0);

    const noUser = await cli('users', 'grant-role', 'nobody@example.com', 'admin');
    expect(noUser.code).toBe(1);
    expect(noUser.stderr).toContain('error: no user with email nobody@example.com');

    const badRole = await cli('users', 'grant-role', 'ops@example.com', 'root');
    expect(badRole.code).toBe(1);
    expect(badRole.stderr).toContain(
      "error: unknown role 'root': expected one of user, moderator, admin",
    );

    const rows = await withStore(async (db) => ({
      role: (await db.query<{ role: string }>('SELECT role FROM users')).rows,
      audit: (await db.query<{ details: { to: string } }>('SELECT details FROM audit_log')).rows,
    }));
    expect(rows.role).toEqual([{ role: 'moderator' }]);
    expect(rows.audit.map((r) => r.details.to)).toEqual(['moderator']);
  }, 180_000);
});
