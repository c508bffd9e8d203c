import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { type ApiHarness, call, register, type TestUser } from './harness.ts';

const count = async (h: ApiHarness, sql: string, params: unknown[] = []) =>
  (await h.canon.db.query<{ n: number }>(sql, params)).rows[0]!.n;

describe(`Idempotency-Key on creating POSTs (${engineName})`, () => {
  const h = useApi();
  let second: FastifyInstance;
  let secondBase: string;
  let alice: TestUser;

  beforeAll(async () => {
    // A second API instance on the same canonical store: keys are shared through it.
    second = await buildApp({
      ctx: h.ctx,
      jwtSecret: 'test-secret-test-secret-test-secret-1234',
      log: silentLogger,
      metrics: new Metrics(),
    });
    secondBase = await second.listen({ port: 0, host: '127.0.0.1' });
    alice = await register(h, 'idem-alice');
  }, 120_000);
  afterAll(async () => {
    await second?.close();
  });

  const post = (base: string, key: string, text: string, token = alice.token) =>
    call({ ...h, base }, 'POST', '/v1/posts', {
      token,
      body: { text },
      headers: { 'idempotency-key': key },
    });

  it('a retry with the same key replays the first response on any instance and creates nothing', async () => {
    const first = await post(h.base, 'key-1', 'once');
    expect(first.status).toBe(201);
    const again = await post(secondBase, 'key-1', 'once');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(
      await count(h, 'SELECT count(*)::int AS n FROM posts WHERE author_id = $1', [alice.id]),
    ).toBe(1);
    const res = await fetch(`${h.base}/v1/posts`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${alice.token}`,
        'content-type': 'application/json',
        'idempotency-key': 'key-1',
      },
      body: JSON.stringify({ text: 'once' }),
    });
    expect(res.headers.get('idempotent-replayed')).toBe('true');
  });

  it('concurrent requests with one key create one post', async () => {
    const replies = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => post(i % 2 ? secondBase : h.base, 'key-race', 'raced')),
    );
    for (const r of replies) expect([201, 409]).toContain(r.status);
    const ids = new Set(replies.filter((r) => r.status === 201).map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(await count(h, `SELECT count(*)::int AS n FROM posts WHERE text = 'raced'`)).toBe(1);
  });

  it('the same key with a different body is 422 and writes nothing', async () => {
    await post(h.base, 'key-2', 'first body');
    const before = await count(h, 'SELECT count(*)::int AS n FROM posts');
    const r = await post(h.base, 'key-2', 'another body');
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('idempotency_key_reused');
    expect(await count(h, 'SELECT count(*)::int AS n FROM posts')).toBe(before);
  });

  it('keys are per caller: another user with the same key creates their own post', async () => {
    const bob = await register(h, 'idem-bob');
    const a = await post(h.base, 'shared-key', 'mine', alice.token);
    const b = await post(h.base, 'shared-key', 'mine', bob.token);
    expect(b.status).toBe(201);
    expect(b.body.id).not.toBe(a.body.id);
  });

  it('a failed request frees its key; a malformed key is a 400', async () => {
    const missing = crypto.randomUUID();
    const body = { contentType: 'post', contentId: missing, reason: 'spam' };
    const opts = { token: alice.token, body, headers: { 'idempotency-key': 'report-1' } };
    expect((await call(h, 'POST', '/v1/reports', opts)).status).toBe(404);
    expect((await call(h, 'POST', '/v1/reports', opts)).status).toBe(404);
    const target = await post(h.base, 'key-target', 'report me');
    const ok = { ...opts, headers: { 'idempotency-key': 'report-2' } };
    ok.body = { ...body, contentId: target.body.id };
    const r1 = await call(h, 'POST', '/v1/reports', ok);
    const r2 = await call(h, 'POST', '/v1/reports', ok);
    expect(r1.status).toBe(201);
    expect(r2.body.id).toBe(r1.body.id);
    expect(
      await count(h, 'SELECT count(*)::int AS n FROM moderation_cases WHERE content_id = $1', [
        target.body.id,
      ]),
    ).toBe(1);
    for (const key of ['', 'x'.repeat(256), 'naïve', 'a b']) {
      const r = await post(h.base, key, 'bad key');
      expect(r.status, JSON.stringify(key)).toBe(400);
    }
  });

  it('registration with a key is replayed: one account', async () => {
    const body = {
      email: `idem-${process.pid}@example.com`,
      password: 'correct horse battery',
      displayName: 'Idem',
    };
    const headers = { 'idempotency-key': crypto.randomUUID() };
    const r1 = await call(h, 'POST', '/v1/auth/register', { body, headers });
    const r2 = await call({ ...h, base: secondBase }, 'POST', '/v1/auth/register', {
      body,
      headers,
    });
    expect(r1.status).toBe(201);
    expect(r2.status).toBe(201);
    expect(r2.body.user.id).toBe(r1.body.user.id);
    expect(
      await count(h, 'SELECT count(*)::int AS n FROM users WHERE email = $1', [body.email]),
    ).toBe(1);
    // Registration writes as the new user, its key lives in the anonymous scope: still marked.
    expect(await committedFlag('anonymous', headers['idempotency-key'])).toBe(true);
  });

  /** Puts a key back in the state a crash leaves: no response recorded, 2 minutes old. */
  const crashedBeforeResponse = (key: string) =>
    h.canon.db.query(
      `UPDATE idempotency_keys SET status = NULL, response = NULL,
              created_at = now() - interval '2 minutes' WHERE key = $1`,
      [key],
    );
  const committedFlag = async (scope: string, key: string) =>
    (
      await h.canon.db.query<{ committed: boolean }>(
        'SELECT committed FROM idempotency_keys WHERE scope = $1 AND key = $2',
        [scope, key],
      )
    ).rows[0]?.committed;
  const postsWithText = (text: string) =>
    count(h, 'SELECT count(*)::int AS n FROM posts WHERE text = $1', [text]);

  it('a retry after the write committed but its response was lost never writes again', async () => {
    const key = crypto.randomUUID();
    const text = `committed, then the process died ${key}`;
    expect((await post(h.base, key, text)).status).toBe(201);
    // The write's own transaction marked the key.
    expect(await committedFlag(alice.id, key)).toBe(true);
    await crashedBeforeResponse(key);
    const retry = await post(secondBase, key, text);
    expect(retry.status).toBe(409);
    expect(retry.body.error.code).toBe('idempotency_outcome_lost');
    expect(await postsWithText(text)).toBe(1);
  });

  it('a key left unfinished by a request that died before writing is taken over: one post', async () => {
    const key = crypto.randomUUID();
    const text = `died before writing ${key}`;
    // A request with this key that was claimed and never wrote (its process died).
    const hash = createHash('sha256').update(JSON.stringify({ text })).digest('hex');
    await h.canon.db.query(
      `INSERT INTO idempotency_keys (scope, key, route, request_hash, created_at, expires_at)
       VALUES ($1, $2, 'POST /v1/posts', $3, now() - interval '2 minutes', now() + interval '1 day')`,
      [alice.id, key, hash],
    );
    expect(await committedFlag(alice.id, key)).toBe(false);
    expect((await post(secondBase, key, text)).status).toBe(201);
    expect(await postsWithText(text)).toBe(1);
  });
});
