import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCanonical, servingDbs } from '../../src/canonical/connect.ts';
import { postSnapshot } from '../../src/canonical/tables/posts.ts';
import { loadConfig } from '../../src/config/config.ts';
import { sqlState } from '../../src/domain/pg-errors.ts';
import { pairAggregateId } from '../../src/events/emit.ts';
import type { Db, Queryable } from '../../src/sql/db.ts';
import { createPgDb } from '../../src/sql/pg.ts';
import { insertUser } from '../support/canon.ts';
import { canonicalDb, engineName, type ScratchDb } from '../support/databases.ts';
import { count, insertPost } from './fixtures.ts';

const API = 'asora_api_login';
const WORKER = 'asora_worker_login';

/**
 * Sessions as the real login roles: on a server a pool that logs in as the role; on PGlite
 * (one superuser connection) the transaction's session user is switched to it, which is what
 * RESET ROLE returns to.
 */
describe(`login roles and checked events (${engineName})`, () => {
  let s: ScratchDb;
  const pools = new Map<string, Db>();
  let alice: string;
  let bob: string;
  let post: string;
  let owner: string;

  const loginDb = (login: string): Db => {
    if (!s.url) return s.db;
    let db = pools.get(login);
    if (!db) {
      const u = new URL(s.url);
      u.username = login;
      db = createPgDb(u.toString(), { max: 2 });
      pools.set(login, db);
    }
    return db;
  };

  /** Runs the statements as `login` in one transaction, rolled back; the SQLSTATE of the first failure. */
  const run = async (login: string, ...steps: ((tx: Queryable) => Promise<unknown>)[]) => {
    try {
      await loginDb(login).transaction(async (tx) => {
        if (!s.url) await tx.exec(`SET SESSION AUTHORIZATION ${login}`);
        for (const step of steps) await step(tx);
        throw new Error('rollback');
      });
      return undefined;
    } catch (err) {
      if (err instanceof Error && err.message === 'rollback') return undefined;
      return sqlState(err) ?? String(err);
    } finally {
      // PGlite keeps a session authorization past its transaction() (and RESET SESSION
      // AUTHORIZATION does not undo it); naming the superuser does, from any session: why
      // the embedded runtime does not switch at all (docs/canonical.md, "Roles").
      if (!s.url) await s.db.query(`SET SESSION AUTHORIZATION ${owner}`);
    }
  };
  const sql =
    (text: string, params: unknown[] = []) =>
    (tx: Queryable) =>
      tx.query(text, params);
  const beginAs = (userId: string) => sql('SELECT auth_begin_session($1::uuid)', [userId]);
  const forgedPost = () => ({
    id: post,
    authorId: alice,
    text: 'forged',
    tags: [],
    status: 'published',
    version: 999,
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  });
  const emitRaw = (payload: unknown) =>
    sql(`SELECT emit_event('post', $1::uuid, 'post.updated', $2::jsonb)`, [
      post,
      JSON.stringify(payload),
    ]);
  const emitChecked = (type: string, id: string, event: string, payload: unknown) =>
    sql('SELECT emit_checked_event($1, $2::uuid, $3, $4::jsonb)', [
      type,
      id,
      event,
      JSON.stringify(payload),
    ]);

  beforeAll(async () => {
    s = await canonicalDb();
    owner = (await s.db.query<{ u: string }>('SELECT session_user AS u')).rows[0]!.u;
    alice = await insertUser(s.db, { email: 'lr-alice@example.com', profile: false });
    bob = await insertUser(s.db, { email: 'lr-bob@example.com', profile: false });
    await s.db.query(`UPDATE users SET password_hash = 'scrypt$1$1$1$salt$key' WHERE id = $1`, [
      alice,
    ]);
    post = await insertPost(s.db, alice);
  }, 60_000);
  afterAll(async () => {
    for (const db of pools.values()) await db.close();
    await s?.close();
  });

  it('the login roles own nothing; the API role inherits nothing and is no worker', async () => {
    const { rows } = await s.db.query<{ rolname: string; rolinherit: boolean; owned: number }>(
      `SELECT r.rolname, r.rolinherit,
              (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid)
            + (SELECT count(*)::int FROM pg_proc p WHERE p.proowner = r.oid) AS owned
         FROM pg_roles r WHERE r.rolname IN ($1, $2) ORDER BY r.rolname`,
      [API, WORKER],
    );
    expect(rows).toEqual([
      { rolname: API, rolinherit: false, owned: 0 },
      { rolname: WORKER, rolinherit: true, owned: 0 },
    ]);
    const member = async (login: string, role: string) =>
      (await s.db.query<{ m: boolean }>(`SELECT pg_has_role($1, $2, 'MEMBER') AS m`, [login, role]))
        .rows[0]!.m;
    expect(await member(API, 'asora_app')).toBe(true);
    expect(await member(API, 'asora_admin')).toBe(true);
    expect(await member(API, 'asora_worker')).toBe(false);
    expect(await member(WORKER, 'asora_worker')).toBe(true);
    expect(await member(WORKER, 'asora_app')).toBe(false);
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)(
    'a serving process logs in as the login roles; the owner pool only migrates',
    async () => {
      const config = loadConfig({ DATABASE_URL: s.url!, JWT_SECRET: 'x'.repeat(32) });
      const serving = await servingDbs(config, await connectCanonical(config));
      try {
        const who = async (db: Db) =>
          (await db.query<{ u: string }>('SELECT session_user AS u')).rows[0]!.u;
        expect(await who(serving.db)).toBe(API);
        expect(await who(serving.workerDb)).toBe(WORKER);
        expect(serving.readDb).toBe(serving.workerDb);
      } finally {
        await serving.close();
      }
    },
  );

  it('an asora_app session cannot read any password hash or emit an event, even after RESET ROLE', async () => {
    const hash = sql('SELECT password_hash FROM users');
    const anyUsers = sql('SELECT id FROM users');
    const outbox = sql(
      `INSERT INTO outbox (aggregate_type, aggregate_id, aggregate_version, event_type, payload)
       VALUES ('post', $1, 999, 'post.updated', '{}')`,
      [post],
    );
    const forged = emitChecked('post', post, 'post.updated', forgedPost());
    for (const [what, attack] of Object.entries({
      'read hashes': hash,
      emit_event: emitRaw(forgedPost()),
      'insert into the outbox': outbox,
      'emit a forged event': forged,
    })) {
      // As the application role, the way a request runs (auth_begin_session switches roles).
      expect(await run(API, beginAs(alice), attack), `as asora_app: ${what}`).toBe('42501');
      // RESET ROLE lands on the login role, which holds no privilege of its own.
      expect(await run(API, beginAs(alice), sql('RESET ROLE'), attack), `reset: ${what}`).toBe(
        '42501',
      );
      // The API serves moderators, so it may become asora_admin: no more allowed there.
      expect(await run(API, sql('SET ROLE asora_admin'), attack), `admin: ${what}`).toBe('42501');
    }
    expect(await run(API, beginAs(alice), sql('RESET ROLE'), anyUsers)).toBe('42501');
    expect(
      await run(
        API,
        sql('RESET ROLE'),
        sql(`SELECT set_config('app.current_user_id', $1, true)`, [alice]),
        anyUsers,
      ),
    ).toBe('42501');
    // Nor can it become the worker or the owner of the tables.
    expect(await run(API, sql('SET ROLE asora_worker'))).toBe('42501');
    expect(await run(API, sql(`SET ROLE "${owner}"`))).toBe('42501');
    expect(await run(WORKER, sql('SET ROLE asora_app'))).toBe('42501');
    expect(await run(WORKER, sql(`SET ROLE "${owner}"`))).toBe('42501');
    // What a request does still works as the login role.
    expect(await run(API, beginAs(alice), sql('SELECT id FROM users WHERE id = $1', [alice]))).toBe(
      undefined,
    );
    expect(await run(WORKER, sql('RESET ROLE'), sql('SELECT count(*) FROM outbox'))).toBe(
      undefined,
    );
    expect(await count(s.db, 'outbox')).toBe(0);
  });

  it('emit_checked_event accepts the truth of this transaction and refuses anything else', async () => {
    const snapshot = async (tx: Queryable) =>
      postSnapshot(
        (
          await tx.query<Parameters<typeof postSnapshot>[0]>(
            'UPDATE posts SET version = version + 1 WHERE id = $1 RETURNING *',
            [post],
          )
        ).rows[0]!,
      );
    const editAndEmit = (change: (s: Record<string, unknown>) => Record<string, unknown>) => [
      beginAs(alice),
      async (tx: Queryable) =>
        emitChecked('post', post, 'post.updated', change({ ...(await snapshot(tx)) }))(tx),
    ];
    expect(await run(API, ...editAndEmit((p) => p))).toBeUndefined();
    for (const [what, change] of Object.entries({
      'another version': (p: Record<string, unknown>) => ({ ...p, version: 999 }),
      'other text': (p: Record<string, unknown>) => ({ ...p, text: 'forged' }),
      'another author': (p: Record<string, unknown>) => ({ ...p, authorId: bob }),
      'another time': (p: Record<string, unknown>) => ({
        ...p,
        updatedAt: '2001-01-01T00:00:00.000Z',
      }),
    })) {
      expect(await run(API, ...editAndEmit(change)), what).toBe('42501');
    }

    // Relationships: a follow event only with the follow this transaction made.
    const follow = sql(
      `INSERT INTO follows (follower_id, followee_id, created_at)
       VALUES ($1, $2, date_trunc('milliseconds', clock_timestamp()))`,
      [alice, bob],
    );
    const followCreated = async (tx: Queryable) => {
      const { rows } = await tx.query<{ at: Date }>(
        'SELECT created_at AS at FROM follows WHERE follower_id = $1 AND followee_id = $2',
        [alice, bob],
      );
      return emitChecked('follow', pairAggregateId('follow', alice, bob), 'follow.created', {
        followerId: alice,
        followeeId: bob,
        createdAt: rows[0]!.at.toISOString(),
      })(tx);
    };
    expect(await run(API, beginAs(alice), follow, followCreated)).toBeUndefined();
    const removed = {
      followerId: alice,
      followeeId: bob,
    };
    const followAggregate = pairAggregateId('follow', alice, bob);
    expect(
      await run(
        API,
        beginAs(alice),
        emitChecked('follow', followAggregate, 'follow.removed', removed),
      ),
      'a removal that happened',
    ).toBeUndefined();
    expect(
      await run(
        API,
        beginAs(alice),
        emitChecked('follow', pairAggregateId('follow', bob, alice), 'follow.removed', removed),
      ),
      'under another aggregate',
    ).toBe('42501');
    await s.db.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [
      alice,
      bob,
    ]);
    try {
      expect(
        await run(API, beginAs(alice), followCreated),
        'a follow made by an earlier transaction (its notification again)',
      ).toBe('42501');
      expect(
        await run(
          API,
          beginAs(alice),
          emitChecked('follow', followAggregate, 'follow.removed', removed),
        ),
        'a removal of a follow that exists',
      ).toBe('42501');
    } finally {
      await s.db.query('DELETE FROM follows WHERE follower_id = $1', [alice]);
    }

    // An account deletion names only its own posts.
    await s.db.query('UPDATE users SET deleted_at = now() WHERE id = $1', [bob]);
    const { rows } = await s.db.query<{ at: Date }>(
      'SELECT deleted_at AS at FROM users WHERE id = $1',
      [bob],
    );
    const userDeleted = (postIds: string[]) =>
      emitChecked('user', bob, 'user.deleted', {
        userId: bob,
        deletedAt: rows[0]!.at.toISOString(),
        postIds,
        reactions: [],
        followerIds: [],
        followeeIds: [],
      });
    expect(await run(API, beginAs(alice), userDeleted([]))).toBeUndefined();
    expect(await run(API, beginAs(alice), userDeleted([post])), "another's post").toBe('42501');

    expect(
      await run(API, beginAs(alice), emitChecked('post', post, 'post.unheard_of', {})),
      'an unknown type',
    ).toBe('42501');
    expect(await count(s.db, 'outbox')).toBe(0); // every run rolled back
  });
});
