import { beforeAll, describe, expect, it } from 'vitest';
import { snapshotCatalog } from '../../src/canonical/schema-verify/catalog.ts';
import { type Drift, diffCatalogs, formatDrift } from '../../src/canonical/schema-verify/diff.ts';
import { expectedCatalog, verifySchema } from '../../src/canonical/schema-verify/verify.ts';
import type { Db, Queryable } from '../../src/sql/db.ts';
import { engineName } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';

class Rollback extends Error {}

/**
 * Drift detection. Each alteration runs inside a transaction that is rolled back (DDL
 * is transactional in PostgreSQL), so one migrated database serves every case. The
 * expected side is always the migrations applied to in-memory PGlite: on the server
 * pass this also proves PostgreSQL 15 and PGlite yield the same normalised catalog.
 */
describe(`schema verify (${engineName})`, () => {
  const s = useCanonicalDb();
  let db: Db;

  beforeAll(() => {
    db = s.db;
  });

  async function driftAfter(ddl: string): Promise<Drift[]> {
    let drift: Drift[] = [];
    await expect(
      db.transaction(async (tx: Queryable) => {
        await tx.exec(ddl);
        drift = (await verifySchema(tx)).drift;
        throw new Rollback();
      }),
    ).rejects.toBeInstanceOf(Rollback);
    return drift;
  }

  it('finds no drift on an untouched migrated database', async () => {
    const r = await verifySchema(db);
    expect(formatDrift(r.drift)).toBe('');
    expect(r.expectedObjects).toBe(r.actualObjects);
    expect(r.appliedMigrations).toBeGreaterThan(0);
    // The snapshot covers every kind the migrations create, so "no drift" means something.
    const kinds = new Set([...(await expectedCatalog()).values()].map((o) => o.kind));
    expect([...kinds].sort()).toEqual(
      [
        'column',
        'constraint',
        'extension',
        'function',
        'grant',
        'index',
        'migration',
        'policy',
        'role',
        'table',
        'trigger',
      ].sort(),
    );
  }, 180_000); // the first call starts the in-memory PGlite that holds the expected catalog

  it('names exactly an altered column type', async () => {
    const drift = await driftAfter('ALTER TABLE audit_log ALTER COLUMN action TYPE varchar(200)');
    expect(formatDrift(drift)).toBe(
      '~ column audit_log.action: type text → character varying(200)',
    );
  });

  it('names exactly a dropped index', async () => {
    const drift = await driftAfter('DROP INDEX posts_author_created_idx');
    expect(formatDrift(drift)).toBe(
      '- index posts_author_created_idx: CREATE INDEX posts_author_created_idx ON public.posts USING btree (author_id, created_at DESC)',
    );
  });

  it('names exactly a dropped policy', async () => {
    const drift = await driftAfter('DROP POLICY profiles_visible ON profiles');
    expect(drift).toHaveLength(1);
    expect(drift[0]).toMatchObject({
      change: 'missing',
      kind: 'policy',
      name: 'profiles.profiles_visible',
    });
    expect(formatDrift(drift)).toMatch(
      /^- policy profiles\.profiles_visible: FOR SELECT TO asora_app USING \(\(user_id = app_current_user_id\(\)\)/,
    );
  });

  it.each([
    [
      'an extra policy',
      'CREATE POLICY open_read ON users FOR SELECT TO asora_app USING (true)',
      ['+ policy users.open_read: FOR SELECT TO asora_app USING true'],
    ],
    [
      'RLS switched off',
      'ALTER TABLE profiles DISABLE ROW LEVEL SECURITY',
      ['~ table profiles: rowLevelSecurity enabled → disabled'],
    ],
    [
      'a changed policy expression',
      `ALTER POLICY posts_visible ON posts USING (true)`,
      [
        "~ policy posts.posts_visible: using (((status = 'published'::text) AND (deleted_at IS NULL)) OR (author_id = app_current_user_id())) → true",
      ],
    ],
    [
      'a dropped NOT NULL and a changed default',
      `ALTER TABLE posts ALTER COLUMN status DROP NOT NULL, ALTER COLUMN status SET DEFAULT 'hidden'`,
      [
        "~ column posts.status: default 'published'::text → 'hidden'::text",
        '~ column posts.status: nullable NOT NULL → NULL',
      ],
    ],
    [
      'a dropped check constraint',
      'ALTER TABLE profiles DROP CONSTRAINT profiles_bio_check',
      [
        '- constraint profiles.profiles_bio_check: CHECK (((bio IS NULL) OR (char_length(bio) <= 500)))',
      ],
    ],
    [
      'an extra column',
      'ALTER TABLE users ADD COLUMN nickname text',
      ['+ column users.nickname: text'],
    ],
    [
      'a dropped table',
      'DROP TABLE appeals',
      null, // many lines (columns, constraints, policies, grants); checked below
    ],
    [
      'a revoked column privilege',
      'REVOKE UPDATE (bio) ON profiles FROM asora_app',
      ['- grant column profiles.bio to asora_app: UPDATE'],
    ],
    [
      'a replaced function body',
      `CREATE OR REPLACE FUNCTION app_current_user_id() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT NULL::uuid $$`,
      [
        "~ function app_current_user_id(): body SELECT nullif(current_setting('app.current_user_id', true), '')::uuid → SELECT NULL::uuid",
      ],
    ],
    [
      'an edited migration (checksum) and an unrecorded one',
      `UPDATE schema_migrations SET checksum = 'abc' WHERE version = '0001';
       INSERT INTO schema_migrations (version, name, checksum) VALUES ('9999', 'hotfix', 'def')`,
      [
        /^~ migration 0001_canonical_schema: checksum [0-9a-f]{64} → abc$/,
        '+ migration 9999_hotfix: checksum def',
      ],
    ],
    [
      'an extra trigger',
      `CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
       CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch()`,
      [
        '+ function touch(): returns trigger, plpgsql, security invoker',
        '+ trigger posts.posts_touch: CREATE TRIGGER posts_touch BEFORE UPDATE ON public.posts FOR EACH ROW EXECUTE FUNCTION touch()',
        '+ grant function touch() to PUBLIC: EXECUTE',
      ],
    ],
  ] as [string, string, (string | RegExp)[] | null][])('names %s', async (_what, ddl, lines) => {
    const drift = await driftAfter(ddl);
    const out = formatDrift(drift).split('\n');
    if (lines) {
      expect(out).toHaveLength(lines.length);
      for (const [i, l] of lines.entries()) {
        if (typeof l === 'string') expect(out[i]).toBe(l);
        else expect(out[i]).toMatch(l);
      }
    } else {
      expect(drift.length).toBeGreaterThan(10);
      expect(drift.every((d) => d.change === 'missing')).toBe(true);
      expect(drift.every((d) => d.name.startsWith('appeals') || d.name.includes('appeals'))).toBe(
        true,
      );
      expect(out).toContain('- table appeals: row level security enabled');
    }
  });

  it('the rolled-back alterations left the database as it was', async () => {
    expect((await verifySchema(db)).drift).toEqual([]);
  });

  it('diffCatalogs is symmetric: swapping sides swaps - and +', async () => {
    const expected = await expectedCatalog();
    const altered = await db
      .transaction(async (tx) => {
        await tx.exec('DROP INDEX posts_author_created_idx');
        const snap = await snapshotCatalog(tx);
        throw Object.assign(new Rollback(), { snap });
      })
      .catch((e: Rollback & { snap: Awaited<ReturnType<typeof snapshotCatalog>> }) => e.snap);
    expect(formatDrift(diffCatalogs(altered, expected))).toMatch(
      /^\+ index posts_author_created_idx: /,
    );
  });
});
