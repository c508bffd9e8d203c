import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asUser } from '../../src/canonical/session.ts';
import type { Db } from '../../src/sql/db.ts';
import { insertUser } from '../support/canon.ts';
import { engineName } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';

/** follower_counts (0005) is kept by trigger in the follow's own transaction. */
describe(`follower counts (${engineName})`, () => {
  const s = useCanonicalDb({ reset: 'each' });
  let db: Db;
  let users: string[];

  beforeAll(() => {
    db = s.db;
  });
  beforeEach(async () => {
    users = [];
    for (let i = 0; i < 4; i++)
      users.push(await insertUser(db, { email: `u${i}@example.com`, profile: false }));
  });

  const followersOf = async (id: string) =>
    (
      await db.query<{ n: number | null }>(
        'SELECT (SELECT followers FROM follower_counts WHERE user_id = $1) AS n',
        [id],
      )
    ).rows[0]!.n;

  it('counts follows and unfollows exactly, including a rolled-back follow', async () => {
    const [star, a, b, c] = users as [string, string, string, string];
    for (const f of [a, b, c]) {
      await asUser(db, f, (tx) =>
        tx.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [f, star]),
      );
    }
    expect(await followersOf(star)).toBe(3);
    await asUser(db, a, (tx) =>
      tx.query('DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2', [a, star]),
    );
    expect(await followersOf(star)).toBe(2);
    // A failed transaction leaves no trace in the count.
    await expect(
      asUser(db, a, async (tx) => {
        await tx.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [a, star]);
        await tx.query('SELECT 1/0');
      }),
    ).rejects.toThrow(/division by zero/);
    expect(await followersOf(star)).toBe(2);
    // A duplicate follow is refused and counts nothing.
    await expect(
      db.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [b, star]),
    ).rejects.toThrow(/follows_pair_key/);
    expect(await followersOf(star)).toBe(2);
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM follows WHERE followee_id = $1',
      [star],
    );
    expect(rows[0]!.n).toBe(2);
  });

  it('counts multi-row inserts and deletes (one statement each) exactly', async () => {
    const [star, other, a, b] = users as [string, string, string, string];
    // One statement: three follows of star, one of other (the seed inserts like this).
    await db.query(
      `INSERT INTO follows (follower_id, followee_id)
       SELECT f, e FROM unnest($1::uuid[], $2::uuid[]) AS x(f, e)`,
      [
        [a, b, other, a],
        [star, star, star, other],
      ],
    );
    expect(await followersOf(star)).toBe(3);
    expect(await followersOf(other)).toBe(1);
    // A statement that inserts nothing (all duplicates skipped) counts nothing.
    await db.query(
      'INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2), ($3, $2) ON CONFLICT DO NOTHING',
      [a, star, b],
    );
    expect(await followersOf(star)).toBe(3);
    // One statement removing follows of both; then an account deletion's cascade.
    await db.query('DELETE FROM follows WHERE follower_id = $1', [a]);
    expect(await followersOf(star)).toBe(2);
    expect(await followersOf(other)).toBe(0);
    await db.query('DELETE FROM users WHERE id = $1', [b]);
    expect(await followersOf(star)).toBe(1);
  });

  it('is readable but not writable by the application role', async () => {
    const [star, a] = users as [string, string];
    await db.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [a, star]);
    const seen = await asUser(db, a, async (tx) => {
      const r = await tx.query<{ followers: number }>(
        'SELECT followers FROM follower_counts WHERE user_id = $1',
        [star],
      );
      return r.rows[0]?.followers;
    });
    expect(seen).toBe(1);
    await expect(
      asUser(db, a, (tx) =>
        tx.query('UPDATE follower_counts SET followers = 1000000 WHERE user_id = $1', [star]),
      ),
    ).rejects.toThrow(/permission denied/);
    expect(await followersOf(star)).toBe(1);
  });
});
