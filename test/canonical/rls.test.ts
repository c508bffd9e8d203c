import { randomUUID } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asAnonymous, asUser, asWorker } from '../../src/canonical/session.ts';
import { UnauthenticatedError } from '../../src/errors.ts';
import type { Db } from '../../src/sql/db.ts';
import { insertUser } from '../support/canon.ts';
import { engineName } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';
import { count, insertPost, insertProfile } from './fixtures.ts';

/**
 * Row Level Security, exercised only through the session helpers the API uses. Every
 * denial is checked twice: what the role sees or gets back, and (as the owner) that the
 * row is unchanged.
 */
describe(`row level security (${engineName})`, () => {
  const s = useCanonicalDb({ reset: 'each' });
  let db: Db;
  let alice: string; // user, public profile
  let bob: string; // user, private profile
  let carol: string; // user, followers-only profile
  let dave: string; // user, follows carol
  let admin: string;
  let moderator: string;
  let bobPost: string;
  let bobRemoved: string;
  let bobCase: string;
  let aliceCase: string;

  beforeAll(() => {
    db = s.db;
  });
  beforeEach(async () => {
    alice = await insertUser(db, { email: 'alice@example.com', profile: false });
    bob = await insertUser(db, { email: 'bob@example.com', profile: false });
    carol = await insertUser(db, { email: 'carol@example.com', profile: false });
    dave = await insertUser(db, { email: 'dave@example.com', profile: false });
    admin = await insertUser(db, { email: 'admin@example.com', role: 'admin', profile: false });
    moderator = await insertUser(db, {
      email: 'mod@example.com',
      role: 'moderator',
      profile: false,
    });
    await insertProfile(db, alice, 'public', 'Alice');
    await insertProfile(db, bob, 'private', 'Bob');
    await insertProfile(db, carol, 'followers', 'Carol');
    await insertProfile(db, dave, 'public', 'Dave');
    await db.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [dave, carol]);
    bobPost = await insertPost(db, bob, 'published', 'bob says hi');
    bobRemoved = await insertPost(db, bob, 'removed', 'bob was removed');
    const cases = await db.query<{ id: string }>(
      `INSERT INTO moderation_cases (reporter_id, content_type, content_id, reason)
       VALUES ($1, 'post', $3, 'spam'), ($2, 'post', $3, 'rude') RETURNING id`,
      [bob, alice, bobPost],
    );
    bobCase = cases.rows[0]!.id;
    aliceCase = cases.rows[1]!.id;
    await db.query(
      `INSERT INTO audit_log (actor_id, action, subject_type, subject_id) VALUES ($1, 'post.removed', 'post', $2)`,
      [admin, bobRemoved],
    );
    await db.query(
      `INSERT INTO posts_admin_mirror (post_id, author_id, text, status, source_version, created_at, updated_at)
       VALUES ($1, $2, 'bob says hi', 'published', 1, now(), now())`,
      [bobPost, bob],
    );
  });

  const emailOf = async (id: string) =>
    (await db.query<{ e: string }>('SELECT email::text AS e FROM users WHERE id = $1', [id]))
      .rows[0]?.e;

  it('runs as the application role with the caller set', async () => {
    const r = await asUser(db, alice, async (tx, caller) => {
      const { rows } = await tx.query<{ role: string; uid: string }>(
        'SELECT current_user AS role, app_current_user_id()::text AS uid',
      );
      return { ...rows[0]!, caller };
    });
    expect(r).toEqual({ role: 'asora_app', uid: alice, caller: { userId: alice, role: 'user' } });
    // SET LOCAL: the next statement on the pool is the owner again, with no caller.
    const { rows } = await db.query<{ uid: string | null }>(
      'SELECT app_current_user_id()::text AS uid',
    );
    expect(rows[0]!.uid).toBeNull();
  });

  it("a user reads only their own user row and cannot change another's", async () => {
    const seen = await asUser(db, alice, async (tx) => {
      const all = await tx.query<{ id: string }>('SELECT id FROM users');
      const byId = await tx.query('SELECT id FROM users WHERE id = $1', [bob]);
      const upd = await tx.query(`UPDATE users SET email = 'stolen@example.com' WHERE id = $1`, [
        bob,
      ]);
      const del = await tx.query('UPDATE users SET deleted_at = now() WHERE id <> $1', [alice]);
      return {
        all: all.rows.map((r) => r.id),
        byId: byId.rowCount,
        upd: upd.rowCount,
        del: del.rowCount,
      };
    });
    expect(seen).toEqual({ all: [alice], byId: 0, upd: 0, del: 0 });
    expect(await emailOf(bob)).toBe('bob@example.com');
    expect(await count(db, 'users', 'deleted_at IS NOT NULL')).toBe(0);
    // Their own row is theirs to change.
    await asUser(db, alice, (tx) =>
      tx.query(`UPDATE users SET email = 'alice2@example.com' WHERE id = $1`, [alice]),
    );
    expect(await emailOf(alice)).toBe('alice2@example.com');
  });

  it('a user cannot change their own role', async () => {
    await expect(
      asUser(db, alice, (tx) => tx.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [alice])),
    ).rejects.toThrow(/permission denied/);
    expect(await count(db, 'users', `id = $1 AND role = 'user'`, [alice])).toBe(1);
    // Nor insert a second account that is born an admin under someone else's id.
    await expect(
      asUser(db, alice, (tx) =>
        tx.query(`INSERT INTO users (id, email, role) VALUES ($1, 'x@example.com', 'admin')`, [
          randomUUID(),
        ]),
      ),
    ).rejects.toThrow(/row-level security/);
    expect(await count(db, 'users', `email = 'x@example.com'`)).toBe(0);
  });

  it('profiles are visible per privacy level: public, own, followers when following', async () => {
    const visible = (uid: string) =>
      asUser(db, uid, async (tx) =>
        (
          await tx.query<{ n: string }>('SELECT display_name AS n FROM profiles ORDER BY 1')
        ).rows.map((r) => r.n),
      );
    expect(await visible(alice)).toEqual(['Alice', 'Dave']);
    expect(await visible(bob)).toEqual(['Alice', 'Bob', 'Dave']);
    expect(await visible(dave)).toEqual(['Alice', 'Carol', 'Dave']);
    // Following Carol opens her followers-only profile to Alice.
    await asUser(db, alice, (tx) =>
      tx.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [alice, carol]),
    );
    expect(await visible(alice)).toEqual(['Alice', 'Carol', 'Dave']);
  });

  it("a user cannot change another's profile, public or private", async () => {
    const n = await asUser(db, alice, async (tx) => {
      const pub = await tx.query(`UPDATE profiles SET bio = 'pwned' WHERE user_id = $1`, [dave]);
      const priv = await tx.query(`UPDATE profiles SET bio = 'pwned' WHERE user_id = $1`, [bob]);
      const own = await tx.query(`UPDATE profiles SET bio = 'mine' WHERE user_id = $1`, [alice]);
      return [pub.rowCount, priv.rowCount, own.rowCount];
    });
    expect(n).toEqual([0, 0, 1]);
    expect(await count(db, 'profiles', `bio = 'pwned'`)).toBe(0);
    // Nor create a profile for someone else.
    await expect(
      asUser(db, alice, (tx) =>
        tx.query(`INSERT INTO profiles (user_id, display_name) VALUES ($1, 'Fake')`, [admin]),
      ),
    ).rejects.toThrow(/row-level security/);
    expect(await count(db, 'profiles', 'user_id = $1', [admin])).toBe(0);
  });

  it('a user cannot read the admin tables', async () => {
    for (const table of ['posts_admin_mirror', 'audit_log']) {
      await expect(
        asUser(db, alice, (tx) => tx.query(`SELECT * FROM ${table}`)),
        table,
      ).rejects.toThrow(/permission denied/);
    }
    // Moderation cases: only the ones they reported.
    const cases = await asUser(db, alice, async (tx) =>
      (await tx.query<{ id: string }>('SELECT id FROM moderation_cases')).rows.map((r) => r.id),
    );
    expect(cases).toEqual([aliceCase]);
    const upd = asUser(db, alice, (tx) =>
      tx.query(`UPDATE moderation_cases SET status = 'dismissed' WHERE id = $1`, [bobCase]),
    );
    await expect(upd).rejects.toThrow(/permission denied/);
    expect(await count(db, 'moderation_cases', `status = 'open'`)).toBe(2);
  });

  it("a user cannot edit another's post, and an author cannot republish a removed post", async () => {
    const n = await asUser(db, alice, async (tx) => {
      const u = await tx.query(`UPDATE posts SET text = 'edited by alice' WHERE id = $1`, [
        bobPost,
      ]);
      return u.rowCount;
    });
    expect(n).toBe(0);
    const republish = await asUser(db, bob, async (tx) => {
      const u = await tx.query(`UPDATE posts SET status = 'published' WHERE id = $1`, [bobRemoved]);
      return u.rowCount;
    });
    expect(republish).toBe(0);
    // Nor hide their own post (a moderator's status) through the author path.
    await expect(
      asUser(db, bob, (tx) =>
        tx.query(`UPDATE posts SET status = 'hidden' WHERE id = $1`, [bobPost]),
      ),
    ).rejects.toThrow(/row-level security/);
    const { rows } = await db.query<{ id: string; text: string; status: string }>(
      'SELECT id, text, status FROM posts ORDER BY text',
    );
    expect(rows).toEqual([
      { id: bobPost, text: 'bob says hi', status: 'published' },
      { id: bobRemoved, text: 'bob was removed', status: 'removed' },
    ]);
    // Others do not see the removed post; its author does.
    const seenBy = (uid: string) =>
      asUser(
        db,
        uid,
        async (tx) => (await tx.query('SELECT id FROM posts WHERE id = $1', [bobRemoved])).rowCount,
      );
    expect(await seenBy(alice)).toBe(0);
    expect(await seenBy(bob)).toBe(1);
  });

  it('an admin and a moderator read the admin tables and every case', async () => {
    for (const uid of [admin, moderator]) {
      const r = await asUser(db, uid, async (tx, caller) => ({
        role: (await tx.query<{ r: string }>('SELECT current_user AS r')).rows[0]!.r,
        caller: caller.role,
        mirror: (await tx.query('SELECT * FROM posts_admin_mirror')).rowCount,
        audit: (await tx.query('SELECT * FROM audit_log')).rowCount,
        cases: (await tx.query('SELECT * FROM moderation_cases')).rowCount,
        users: (await tx.query('SELECT id FROM users')).rowCount,
        search: (
          await tx.query(
            `SELECT post_id FROM posts_admin_mirror WHERE search @@ plainto_tsquery('simple', 'bob')`,
          )
        ).rowCount,
      }));
      expect(r).toEqual({
        role: 'asora_admin',
        caller: uid === admin ? 'admin' : 'moderator',
        mirror: 1,
        audit: 1,
        cases: 2,
        users: 6,
        search: 1,
      });
    }
  });

  it("a moderator or admin changes only the status of another's post (0003)", async () => {
    for (const uid of [moderator, admin]) {
      await expect(
        asUser(db, uid, (tx) =>
          tx.query(`UPDATE posts SET text = 'rewritten' WHERE id = $1`, [bobPost]),
        ),
      ).rejects.toThrow(/only the status/);
      await expect(
        asUser(db, uid, (tx) => tx.query(`UPDATE posts SET tags = '{x}' WHERE id = $1`, [bobPost])),
      ).rejects.toThrow(/only the status/);
    }
    const removed = await asUser(db, moderator, async (tx) => {
      const u = await tx.query(
        `UPDATE posts SET status = 'removed', version = version + 1 WHERE id = $1`,
        [bobPost],
      );
      return u.rowCount;
    });
    expect(removed).toBe(1);
    const { rows } = await db.query<{ text: string; status: string }>(
      'SELECT text, status FROM posts WHERE id = $1',
      [bobPost],
    );
    expect(rows).toEqual([{ text: 'bob says hi', status: 'removed' }]);
  });

  it('only the author of moderated content may appeal its case (0004)', async () => {
    // aliceCase is alice's report about bob's post: alice may not appeal it, bob may.
    await expect(
      asUser(db, alice, (tx) =>
        tx.query(`INSERT INTO appeals (case_id, appellant_id, reason) VALUES ($1, $2, 'x')`, [
          aliceCase,
          alice,
        ]),
      ),
    ).rejects.toThrow(/row-level security/);
    const n = await asUser(db, bob, async (tx) => {
      const r = await tx.query(
        `INSERT INTO appeals (case_id, appellant_id, reason) VALUES ($1, $2, 'satire')`,
        [aliceCase, bob],
      );
      return r.rowCount;
    });
    expect(n).toBe(1);
    expect(await count(db, 'appeals')).toBe(1);
    // The profile row goes with account deletion: its owner may delete it, nobody else.
    const others = await asUser(db, alice, async (tx) => {
      const r = await tx.query('DELETE FROM profiles WHERE user_id <> $1', [alice]);
      return r.rowCount;
    });
    expect(others).toBe(0);
    expect(await count(db, 'profiles')).toBe(4);
  });

  it("a moderator or admin reads every account but cannot change another's (0002)", async () => {
    for (const uid of [moderator, admin]) {
      const r = await asUser(db, uid, async (tx) => {
        const upd = await tx.query(
          `UPDATE users SET password_hash = 'x', email = email || '.x' WHERE id <> $1`,
          [uid],
        );
        const own = await tx.query('UPDATE users SET updated_at = now() WHERE id = $1', [uid]);
        return [upd.rowCount, own.rowCount];
      });
      expect(r).toEqual([0, 1]);
    }
    expect(await count(db, 'users', 'password_hash IS NOT NULL')).toBe(0);
    expect(await emailOf(bob)).toBe('bob@example.com');
    await expect(
      asUser(db, admin, (tx) => tx.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [bob])),
    ).rejects.toThrow(/permission denied/);
  });

  it('the worker role reads every table in full', async () => {
    const { rows: tables } = await db.query<{ t: string }>(
      `SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
    );
    expect(tables.length).toBeGreaterThanOrEqual(15);
    for (const { t } of tables) {
      const owner = await count(db, t);
      const worker = await asWorker(db, async (tx) => {
        const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`);
        return rows[0]!.n;
      });
      expect(worker, t).toBe(owner);
    }
    expect(
      await asWorker(db, async (tx) => (await tx.query('SELECT id FROM users')).rowCount),
    ).toBe(6);
  });

  it('anonymous sessions see no users and register only the id they act as', async () => {
    const newId = randomUUID();
    const r = await asAnonymous(db, async (tx, actAs) => {
      const before = (await tx.query('SELECT id FROM users')).rowCount;
      const taken = (
        await tx.query<{ taken: boolean }>(`SELECT auth_email_taken('ALICE@example.com') AS taken`)
      ).rows[0]!.taken;
      await actAs(newId);
      await tx.query(`INSERT INTO users (id, email) VALUES ($1, 'new@example.com')`, [newId]);
      await tx.query(`INSERT INTO profiles (user_id, display_name) VALUES ($1, 'New')`, [newId]);
      return { before, taken };
    });
    expect(r).toEqual({ before: 0, taken: true });
    expect(await count(db, 'users', 'id = $1', [newId])).toBe(1);
    await expect(
      asAnonymous(db, async (tx, actAs) => {
        await actAs(randomUUID());
        await tx.query(`INSERT INTO users (id, email) VALUES ($1, 'other@example.com')`, [
          randomUUID(),
        ]);
      }),
    ).rejects.toThrow(/row-level security/);
    expect(await count(db, 'users', `email = 'other@example.com'`)).toBe(0);
  });

  it('refuses a session for a deleted or unknown user', async () => {
    const gone = await insertUser(db, { email: 'gone@example.com', deleted: true, profile: false });
    await expect(asUser(db, gone, async () => 1)).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(asUser(db, randomUUID(), async () => 1)).rejects.toBeInstanceOf(
      UnauthenticatedError,
    );
  });

  it('takes the role from the users row, so a promotion applies on the next transaction', async () => {
    await expect(asUser(db, alice, (tx) => tx.query('SELECT * FROM audit_log'))).rejects.toThrow(
      /permission denied/,
    );
    await db.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [alice]);
    const n = await asUser(
      db,
      alice,
      async (tx) => (await tx.query('SELECT * FROM audit_log')).rowCount,
    );
    expect(n).toBe(1);
  });
});
