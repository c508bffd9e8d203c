import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asUser } from '../../src/canonical/session.ts';
import { POST_COLUMNS, type PostRow, postSnapshot } from '../../src/canonical/tables/posts.ts';
import type { Db } from '../../src/sql/db.ts';
import { insertUser } from '../support/canon.ts';
import { engineName } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';
import { count, insertPost, UUID_RE } from './fixtures.ts';

describe(`canonical constraints (${engineName})`, () => {
  const s = useCanonicalDb({ reset: 'each' });
  let db: Db;
  let alice: string;
  let bob: string;
  let post: string;
  let kase: string;

  beforeAll(() => {
    db = s.db;
  });
  beforeEach(async () => {
    alice = await insertUser(db, { email: 'alice@example.com', profile: false });
    bob = await insertUser(db, { email: 'bob@example.com', profile: false });
    post = await insertPost(db, alice);
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO moderation_cases (reporter_id, content_type, content_id, reason)
       VALUES ($1, 'post', $2, 'spam') RETURNING id`,
      [bob, post],
    );
    kase = rows[0]!.id;
  });

  /** Each case: the statement, the constraint it must hit, and the count that must stay 0. */
  const rejects: [string, () => [string, unknown[]], string, () => [string, string, unknown[]]][] =
    [
      [
        'a 51-character display name',
        () => [
          'INSERT INTO profiles (user_id, display_name) VALUES ($1, $2)',
          [alice, 'x'.repeat(51)],
        ],
        'profiles_display_name_check',
        () => ['profiles', 'user_id = $1', [alice]],
      ],
      [
        'an empty display name',
        () => ['INSERT INTO profiles (user_id, display_name) VALUES ($1, $2)', [alice, '']],
        'profiles_display_name_check',
        () => ['profiles', 'user_id = $1', [alice]],
      ],
      [
        'a 501-character bio',
        () => [
          'INSERT INTO profiles (user_id, display_name, bio) VALUES ($1, $2, $3)',
          [alice, 'Alice', 'b'.repeat(501)],
        ],
        'profiles_bio_check',
        () => ['profiles', 'user_id = $1', [alice]],
      ],
      [
        "privacy level 'friends'",
        () => [
          `INSERT INTO profiles (user_id, display_name, privacy_level) VALUES ($1, 'A', 'friends')`,
          [alice],
        ],
        'profiles_privacy_level_check',
        () => ['profiles', 'user_id = $1', [alice]],
      ],
      [
        'a self-follow',
        () => ['INSERT INTO follows (follower_id, followee_id) VALUES ($1, $1)', [alice]],
        'follows_no_self',
        () => ['follows', 'true', []],
      ],
      [
        'a self-block',
        () => ['INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $1)', [alice]],
        'blocks_no_self',
        () => ['blocks', 'true', []],
      ],
      [
        'a self-mute',
        () => ['INSERT INTO mutes (muter_id, muted_id) VALUES ($1, $1)', [alice]],
        'mutes_no_self',
        () => ['mutes', 'true', []],
      ],
      [
        "auth provider 'facebook'",
        () => [
          `INSERT INTO auth_identities (user_id, provider, provider_subject) VALUES ($1, 'facebook', 'fb-1')`,
          [alice],
        ],
        'auth_identities_provider_check',
        () => ['auth_identities', 'true', []],
      ],
      [
        "user role 'root'",
        () => [`INSERT INTO users (email, role) VALUES ('root@example.com', 'root')`, []],
        'users_role_check',
        () => ['users', `email = 'root@example.com'`, []],
      ],
      [
        "post status 'archived'",
        () => [`INSERT INTO posts (author_id, text, status) VALUES ($1, 'x', 'archived')`, [bob]],
        'posts_status_check',
        () => ['posts', 'author_id = $1', [bob]],
      ],
      [
        'an empty post',
        () => [`INSERT INTO posts (author_id, text) VALUES ($1, '')`, [bob]],
        'posts_text_check',
        () => ['posts', 'author_id = $1', [bob]],
      ],
      [
        "moderation case status 'closed'",
        () => [
          `INSERT INTO moderation_cases (reporter_id, content_type, content_id, reason, status)
         VALUES ($1, 'post', $2, 'r', 'closed')`,
          [alice, post],
        ],
        'moderation_cases_status_check',
        () => ['moderation_cases', 'reporter_id = $1', [alice]],
      ],
      [
        "moderation content type 'comment'",
        () => [
          `INSERT INTO moderation_cases (reporter_id, content_type, content_id, reason)
         VALUES ($1, 'comment', $2, 'r')`,
          [alice, post],
        ],
        'moderation_cases_content_type_check',
        () => ['moderation_cases', 'reporter_id = $1', [alice]],
      ],
      [
        "appeal status 'open'",
        () => [
          `INSERT INTO appeals (case_id, appellant_id, reason, status) VALUES ($1, $2, 'r', 'open')`,
          [kase, alice],
        ],
        'appeals_status_check',
        () => ['appeals', 'true', []],
      ],
      [
        "reaction type 'love'",
        () => [
          `INSERT INTO reactions (post_id, user_id, type) VALUES ($1, $2, 'love')`,
          [post, bob],
        ],
        'reactions_type_check',
        () => ['reactions', 'true', []],
      ],
      [
        'a post_admin_mirror row with an unknown status',
        () => [
          `INSERT INTO posts_admin_mirror (post_id, author_id, text, status, source_version, created_at, updated_at)
         VALUES ($1, $2, 'x', 'archived', 1, now(), now())`,
          [post, alice],
        ],
        'posts_admin_mirror_status_check',
        () => ['posts_admin_mirror', 'true', []],
      ],
    ];

  it.each(rejects)('rejects %s and writes nothing', async (_what, stmt, constraint, probe) => {
    const [sql, params] = stmt();
    await expect(db.query(sql, params)).rejects.toThrow(constraint);
    const [table, where, p] = probe();
    expect(await count(db, table, where, p)).toBe(0);
  });

  it('accepts the boundary values (50-character name, 500-character bio)', async () => {
    await db.query('INSERT INTO profiles (user_id, display_name, bio) VALUES ($1, $2, $3)', [
      alice,
      'x'.repeat(50),
      'b'.repeat(500),
    ]);
    for (const provider of ['google', 'apple', 'github', 'email']) {
      await db.query(
        'INSERT INTO auth_identities (user_id, provider, provider_subject) VALUES ($1, $2, $3)',
        [alice, provider, `${provider}-1`],
      );
    }
    for (const type of ['like', 'heart', 'laugh', 'wow', 'sad', 'angry']) {
      await db.query('INSERT INTO reactions (post_id, user_id, type) VALUES ($1, $2, $3)', [
        post,
        bob,
        type,
      ]);
    }
    expect(await count(db, 'auth_identities')).toBe(4);
    expect(await count(db, 'reactions')).toBe(6);
  });

  it('rejects a duplicate follow, block, mute and reaction', async () => {
    await db.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [alice, bob]);
    await expect(
      db.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [alice, bob]),
    ).rejects.toThrow('follows_pair_key');
    await db.query('INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)', [alice, bob]);
    await expect(
      db.query('INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)', [alice, bob]),
    ).rejects.toThrow('blocks_pair_key');
    await db.query('INSERT INTO mutes (muter_id, muted_id) VALUES ($1, $2)', [alice, bob]);
    await expect(
      db.query('INSERT INTO mutes (muter_id, muted_id) VALUES ($1, $2)', [alice, bob]),
    ).rejects.toThrow('mutes_pair_key');
    await db.query(`INSERT INTO reactions (post_id, user_id, type) VALUES ($1, $2, 'like')`, [
      post,
      bob,
    ]);
    await expect(
      db.query(`INSERT INTO reactions (post_id, user_id, type) VALUES ($1, $2, 'like')`, [
        post,
        bob,
      ]),
    ).rejects.toThrow('reactions_post_user_type_key');
    expect(await count(db, 'follows')).toBe(1);
    expect(await count(db, 'blocks')).toBe(1);
    expect(await count(db, 'mutes')).toBe(1);
    expect(await count(db, 'reactions')).toBe(1);
    // The reverse direction is a different relationship.
    await db.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [bob, alice]);
    expect(await count(db, 'follows')).toBe(2);
  });

  it('keeps emails unique in any letter case', async () => {
    await insertUser(db, { email: 'A@x.io', profile: false });
    await expect(insertUser(db, { email: 'a@X.IO', profile: false })).rejects.toThrow(
      'users_email_key',
    );
    expect(await count(db, 'users', `email = 'a@x.io'`)).toBe(1);
    const { rows } = await db.query<{ email: string }>(
      `SELECT email::text AS email FROM users WHERE email = 'A@X.IO'`,
    );
    expect(rows).toEqual([{ email: 'A@x.io' }]);
  });

  it('generates UUID primary keys by default on every uuid-keyed table', async () => {
    const { rows } = await db.query<{ table_name: string; column_default: string | null }>(
      `SELECT c.table_name, c.column_default
         FROM information_schema.table_constraints t
         JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)
         JOIN information_schema.columns c
           ON c.table_schema = k.table_schema AND c.table_name = k.table_name AND c.column_name = k.column_name
        WHERE t.table_schema = 'public' AND t.constraint_type = 'PRIMARY KEY' AND c.data_type = 'uuid'
          AND c.column_name = 'id'
        ORDER BY 1`,
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      'appeals',
      'audit_log',
      'auth_identities',
      'blocks',
      'follows',
      'moderation_cases',
      'mutes',
      'posts',
      'profiles',
      'reactions',
      'users',
    ]);
    for (const r of rows) expect(r.column_default, r.table_name).toBe('gen_random_uuid()');
    // And the generated values are real v4 UUIDs, distinct per row.
    const { rows: ids } = await db.query<{ id: string }>('SELECT id FROM users');
    expect(ids).toHaveLength(2);
    for (const { id } of ids) expect(id).toMatch(UUID_RE);
    expect(ids[0]!.id).not.toBe(ids[1]!.id);
    const { rows: f } = await db.query<{ id: string }>(
      'INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) RETURNING id',
      [alice, bob],
    );
    expect(f[0]!.id).toMatch(UUID_RE);
  });

  it('refuses a duplicate outbox (aggregate_type, aggregate_id, aggregate_version)', async () => {
    const insert = `INSERT INTO outbox (aggregate_type, aggregate_id, aggregate_version, event_type, payload)
                    VALUES ('post', $1, 1, 'post.created', '{}')`;
    await db.query(insert, [post]);
    await expect(db.query(insert, [post])).rejects.toThrow('outbox_aggregate_version_key');
    expect(await count(db, 'outbox')).toBe(1);
  });

  it('emit_event numbers versions 1, 2, 3 per aggregate, in one sequence each', async () => {
    const emit = (type: string, id: string) =>
      db.query(`SELECT emit_event($1, $2, 'x.happened', '{"n": 1}'::jsonb) AS id`, [type, id]);
    await emit('post', post);
    await emit('post', post);
    await emit('profile', alice);
    await emit('post', post);
    await emit('post', bob); // same type, other aggregate
    const { rows } = await db.query<{ t: string; a: string; v: number }>(
      'SELECT aggregate_type AS t, aggregate_id::text AS a, aggregate_version::int AS v FROM outbox ORDER BY id',
    );
    expect(rows).toEqual([
      { t: 'post', a: post, v: 1 },
      { t: 'post', a: post, v: 2 },
      { t: 'profile', a: alice, v: 1 },
      { t: 'post', a: post, v: 3 },
      { t: 'post', a: bob, v: 1 },
    ]);
  });

  it('lets the application role emit only through emit_checked_event, and only the truth', async () => {
    await expect(
      asUser(db, alice, (tx) =>
        tx.query(`SELECT emit_event('post', $1, 'post.updated', '{}'::jsonb)`, [post]),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(
      asUser(db, alice, (tx) =>
        tx.query(`SELECT emit_checked_event('post', $1, 'post.updated', '{}'::jsonb)`, [post]),
      ),
    ).rejects.toThrow(/does not match the canonical rows/);
    const { rows } = await db.query<PostRow>(`SELECT ${POST_COLUMNS} FROM posts WHERE id = $1`, [
      post,
    ]);
    await asUser(db, alice, async (tx) => {
      await tx.query(`SELECT emit_checked_event('post', $1, 'post.updated', $2::jsonb)`, [
        post,
        JSON.stringify(postSnapshot(rows[0]!)),
      ]);
    });
    expect(await count(db, 'outbox')).toBe(1);
    await expect(
      asUser(db, alice, (tx) =>
        tx.query(
          `INSERT INTO outbox (aggregate_type, aggregate_id, aggregate_version, event_type, payload)
           VALUES ('post', $1, 9, 'post.updated', '{}')`,
          [post],
        ),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(asUser(db, alice, (tx) => tx.query('SELECT * FROM outbox'))).rejects.toThrow(
      /permission denied/,
    );
    expect(await count(db, 'outbox')).toBe(1);
  });
});
