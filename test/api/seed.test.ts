import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Output } from '../../src/ops/output.ts';
import { seed } from '../../src/ops/seed.ts';
import { engineName } from '../support/databases.ts';
import { pipelineContext } from '../support/pipeline.ts';
import { type ApiHarness, call, startApi } from './harness.ts';

const quiet: Output = { log() {}, error() {}, interactive: false };

describe(`asora seed builds a usable demo graph (${engineName})`, () => {
  let h: ApiHarness;

  beforeAll(async () => {
    h = await startApi();
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  });

  it('without projections: canonical rows with due outbox events, which the pipeline turns into feeds and counters', async () => {
    const r = await seed(
      pipelineContext(h.canon.db, h.proj.store),
      {
        users: 12,
        followsPerUser: 4,
        postsPerUser: 2,
        reactions: 30,
        password: 'password123',
        projections: false,
      },
      quiet,
    );
    expect(r).toMatchObject({ follows: 48, posts: 24, reactions: 30 });
    expect(r.eventIds).toHaveLength(12 + 48 + 24 + 30);
    const { rows } = await h.canon.db.query<Record<string, number>>(
      `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM profiles)::int AS profiles,
              (SELECT count(*) FROM follows)::int AS follows, (SELECT count(*) FROM posts)::int AS posts,
              (SELECT count(*) FROM reactions)::int AS reactions, (SELECT count(*) FROM outbox)::int AS outbox`,
    );
    expect(rows[0]).toEqual({
      users: 12,
      profiles: 12,
      follows: 48,
      posts: 24,
      reactions: 30,
      outbox: r.eventIds.length,
    });

    await h.drain();
    const dead = await h.canon.db.query(
      'SELECT 1 FROM outbox WHERE dead_lettered_at IS NOT NULL OR retry_count > 0',
    );
    expect(dead.rows).toHaveLength(0);

    // A seeded account signs in with the documented password and sees its followees' posts.
    const login = await call(h, 'POST', '/v1/auth/login', {
      body: { email: r.emails[0], password: 'password123' },
    });
    expect(login.status).toBe(200);
    const feed = await call(h, 'GET', '/v1/feed', { token: login.body.accessToken });
    expect(feed.status).toBe(200);
    const followees = await h.canon.db.query<{ id: string }>(
      'SELECT followee_id AS id FROM follows WHERE follower_id = $1',
      [r.userIds[0]],
    );
    const expectedAuthors = new Set([r.userIds[0], ...followees.rows.map((f) => f.id)]);
    expect(feed.body.items).toHaveLength(2 * expectedAuthors.size);
    for (const p of feed.body.items) expect(expectedAuthors.has(p.authorId)).toBe(true);
    const total = feed.body.items.reduce(
      (n: number, p: { counts: Record<string, number> }) =>
        n + Object.values(p.counts).reduce((a, b) => a + b, 0),
      0,
    );
    const truth = await h.canon.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM reactions WHERE post_id = ANY($1::uuid[])',
      [feed.body.items.map((p: { id: string }) => p.id)],
    );
    expect(total).toBe(truth.rows[0]!.n);
  }, 240_000);
});
