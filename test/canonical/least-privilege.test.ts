import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/canonical/migrations.ts';
import { deriveKey, hashPassword } from '../../src/domain/password.ts';
import { sqlState } from '../../src/domain/pg-errors.ts';
import type { Queryable } from '../../src/sql/db.ts';
import { createPgDb } from '../../src/sql/pg.ts';
import { insertUser } from '../support/canon.ts';
import { canonicalDb, engineName, type ScratchDb, scratchDb } from '../support/databases.ts';
import { insertPost } from './fixtures.ts';

/** SQLSTATE of what fn throws (undefined if it does not throw). */
async function failure(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (err) {
    return sqlState(err) ?? String(err);
  }
}

describe(`least privilege in the canonical store (${engineName})`, () => {
  let s: ScratchDb;
  let alice: string;
  let bob: string;
  let mod: string;

  /** Runs fn as a role with app.current_user_id set, rolled back afterwards. */
  const as = (role: string, userId: string | undefined, fn: (tx: Queryable) => Promise<unknown>) =>
    failure(() =>
      s.db.transaction(async (tx) => {
        await tx.exec(`SET LOCAL ROLE ${role}`);
        if (userId) await tx.query(`SELECT set_config('app.current_user_id', $1, true)`, [userId]);
        await fn(tx);
        throw new Error('rollback');
      }),
    ).then((r) => (r === 'Error: rollback' ? undefined : r));

  beforeAll(async () => {
    s = await canonicalDb();
    alice = await insertUser(s.db, { email: 'lp-alice@example.com', profile: false });
    bob = await insertUser(s.db, { email: 'lp-bob@example.com', profile: false });
    mod = await insertUser(s.db, {
      email: 'lp-mod@example.com',
      role: 'moderator',
      profile: false,
    });
    await s.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [
      alice,
      await hashPassword('correct horse battery'),
    ]);
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('the application roles cannot read any password hash, not even their own', async () => {
    for (const role of ['asora_app', 'asora_admin']) {
      expect(
        await as(role, alice, (tx) =>
          tx.query('SELECT password_hash FROM users WHERE id = $1', [alice]),
        ),
        role,
      ).toBe('42501');
      expect(await as(role, alice, (tx) => tx.query('SELECT * FROM users')), role).toBe('42501');
      expect(
        await as(role, alice, (tx) =>
          tx.query(`SELECT auth_find_credentials('lp-alice@example.com')`),
        ),
        role,
      ).toBe('42883'); // gone: it returned any user's hash
      // What they may read still works.
      expect(
        await as(role, alice, (tx) =>
          tx.query('SELECT id, email, role FROM users WHERE id = $1', [alice]),
        ),
      ).toBeUndefined();
    }
  });

  it('login verifies inside the database: parameters out, a derived key in, yes or no back', async () => {
    const params = async (email: string) => {
      let out = '';
      await as('asora_app', undefined, async (tx) => {
        out = (await tx.query<{ p: string }>('SELECT auth_password_params($1) AS p', [email]))
          .rows[0]!.p;
      });
      return out;
    };
    const verify = async (email: string, key: string | undefined) => {
      let out: unknown[] = [];
      await as('asora_app', undefined, async (tx) => {
        out = (
          await tx.query('SELECT user_id, role FROM auth_verify_password($1, $2)', [email, key])
        ).rows;
      });
      return out;
    };
    const p = await params('lp-alice@example.com');
    expect(p.split('$')).toHaveLength(5); // scrypt$N$r$p$salt: no key
    expect(
      await verify('lp-alice@example.com', await deriveKey('correct horse battery', p)),
    ).toEqual([{ user_id: alice, role: 'user' }]);
    expect(await verify('lp-alice@example.com', await deriveKey('wrong horse battery', p))).toEqual(
      [],
    );
    // Unknown emails: a decoy salt, stable per email, different between emails.
    const d1 = await params('nobody@example.com');
    expect(d1.split('$')).toHaveLength(5);
    expect(await params('nobody@example.com')).toBe(d1);
    expect(await params('nobody2@example.com')).not.toBe(d1);
    expect(await verify('nobody@example.com', await deriveKey('x', d1))).toEqual([]);
  });

  it('moderators change statuses only: no posts as anyone, no rewriting reports or appeals', async () => {
    const post = await insertPost(s.db, alice);
    const { rows } = await s.db.query<{ id: string }>(
      `INSERT INTO moderation_cases (reporter_id, content_type, content_id, reason) VALUES ($1, 'post', $2, 'spam') RETURNING id`,
      [bob, post],
    );
    const caseId = rows[0]!.id;
    const appeal = await s.db.query<{ id: string }>(
      `INSERT INTO appeals (case_id, appellant_id, reason) VALUES ($1, $2, 'mine') RETURNING id`,
      [caseId, alice],
    );
    const appealId = appeal.rows[0]!.id;
    const denied = {
      'insert a post as another user': (tx: Queryable) =>
        tx.query(`INSERT INTO posts (author_id, text) VALUES ($1, 'forged')`, [alice]),
      'rewrite a case reporter': (tx: Queryable) =>
        tx.query('UPDATE moderation_cases SET reporter_id = $2 WHERE id = $1', [caseId, mod]),
      'rewrite a case reason': (tx: Queryable) =>
        tx.query(`UPDATE moderation_cases SET reason = 'x' WHERE id = $1`, [caseId]),
      'open a case as someone else': (tx: Queryable) =>
        tx.query(
          `INSERT INTO moderation_cases (reporter_id, content_type, content_id, reason) VALUES ($1, 'post', $2, 'x')`,
          [bob, post],
        ),
      'delete a case': (tx: Queryable) =>
        tx.query('DELETE FROM moderation_cases WHERE id = $1', [caseId]),
      'rewrite an appeal reason': (tx: Queryable) =>
        tx.query(`UPDATE appeals SET reason = 'forged' WHERE id = $1`, [appealId]),
      'change an appellant': (tx: Queryable) =>
        tx.query('UPDATE appeals SET appellant_id = $2 WHERE id = $1', [appealId, bob]),
      'file an appeal as someone else': (tx: Queryable) =>
        tx.query(`INSERT INTO appeals (case_id, appellant_id, reason) VALUES ($1, $2, 'x')`, [
          caseId,
          bob,
        ]),
    };
    for (const [what, fn] of Object.entries(denied)) {
      expect(await as('asora_admin', mod, fn), what).toMatch(/^42501$|row-level security/);
    }
    // What moderators do is still allowed.
    const allowed = {
      'hide a post': (tx: Queryable) =>
        tx.query(`UPDATE posts SET status = 'hidden', version = version + 1 WHERE id = $1`, [post]),
      'decide a case': (tx: Queryable) =>
        tx.query(
          `UPDATE moderation_cases SET status = 'actioned', decision = 'remove', decided_by = $2, resolved_at = now() WHERE id = $1`,
          [caseId, mod],
        ),
      'decide an appeal': (tx: Queryable) =>
        tx.query(
          `UPDATE appeals SET status = 'rejected', decided_by = $2, decided_at = now() WHERE id = $1`,
          [appealId, mod],
        ),
    };
    for (const [what, fn] of Object.entries(allowed)) {
      expect(await as('asora_admin', mod, fn), what).toBeUndefined();
    }
  });

  it('two processes migrating one empty database at once both succeed', async () => {
    const empty = await scratchDb();
    try {
      const second = empty.url ? createPgDb(empty.url, { max: 2 }) : empty.db;
      try {
        const results = await Promise.all([migrate(empty.db), migrate(second)]);
        const applied = results.flatMap((r) => r.applied).sort();
        const all = results[0]!.applied.length + results[0]!.alreadyApplied.length;
        expect(applied).toHaveLength(all); // each migration applied exactly once
      } finally {
        if (second !== empty.db) await second.close();
      }
    } finally {
      await empty.close();
    }
  }, 120_000);
});
