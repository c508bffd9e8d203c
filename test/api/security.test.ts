import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { Health } from '../../src/observability/health.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, register, type TestUser } from './harness.ts';

const SECRET = 'test-secret-test-secret-test-secret-1234';
const OPS_TOKEN = 'operator-token-0123456789';

/** A token signed with the platform's own secret, with any header and claims. */
function token(header: object, claims: object, alg: 'sha256' | 'sha512' = 'sha256'): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64({ typ: 'JWT', ...header })}.${b64(claims)}`;
  return `${head}.${createHmac(alg, SECRET).update(head).digest('base64url')}`;
}

describe(`security: tokens, headers, privacy, operator endpoints (${engineName})`, () => {
  const h = useApi({
    app: {
      tokenTtlSeconds: 600,
      opsToken: OPS_TOKEN,
      ops: { health: new Health(), metrics: new Metrics() },
    },
  });
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    alice = await register(h, 'sec-alice');
    bob = await register(h, 'sec-bob');
  }, 120_000);

  it('issues HS256 tokens with the configured lifetime', () => {
    const [head, claims] = alice.token.split('.').map((p) => {
      try {
        return JSON.parse(Buffer.from(p, 'base64url').toString());
      } catch {
        return undefined;
      }
    });
    expect(head.alg).toBe('HS256');
    expect(claims.exp - claims.iat).toBe(600);
  });

  it('refuses tokens without exp, with another algorithm, or expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases = {
      'no exp': token({ alg: 'HS256' }, { sub: alice.id, iat: now }),
      HS512: token({ alg: 'HS512' }, { sub: alice.id, iat: now, exp: now + 600 }, 'sha512'),
      expired: token({ alg: 'HS256' }, { sub: alice.id, iat: now - 700, exp: now - 100 }),
      'alg none': `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: alice.id, exp: now + 600 })).toString('base64url')}.`,
    };
    for (const [name, t] of Object.entries(cases)) {
      const r = await call(h, 'GET', '/v1/me', { token: t });
      expect(r.status, name).toBe(401);
    }
    const ok = token({ alg: 'HS256' }, { sub: alice.id, iat: now, exp: now + 600 });
    expect((await call(h, 'GET', '/v1/me', { token: ok })).status).toBe(200);
  });

  it('sends security headers, and no-store on authenticated responses', async () => {
    const res = await fetch(`${h.base}/v1/me`, {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const anon = await fetch(`${h.base}/openapi.json`);
    expect(anon.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it("refuses a deleted account's token on every route, including projection-served reads", async () => {
    const gone = await register(h, 'sec-gone');
    const post = await call(h, 'POST', '/v1/posts', { token: bob.token, body: { text: 'hi' } });
    await h.drain();
    expect((await call(h, 'DELETE', '/v1/me', { token: gone.token })).status).toBe(204);
    for (const path of [
      `/v1/users/${bob.id}/profile`,
      `/v1/posts/${post.body.id}`,
      `/v1/posts/${post.body.id}/reactions`,
      '/v1/feed',
      '/v1/notifications',
      '/v1/me',
    ]) {
      const r = await call(h, 'GET', path, { token: gone.token });
      expect(r.status, path).toBe(401);
    }
  });

  it('applies privacy levels to follower, following and post lists', async () => {
    const priv = await register(h, 'sec-private');
    const fol = await register(h, 'sec-follower');
    await call(h, 'PUT', `/v1/users/${priv.id}/follow`, { token: fol.token });
    await call(h, 'POST', '/v1/posts', { token: priv.token, body: { text: 'secret' } });
    await h.drain();
    const lists = ['followers', 'following', 'posts'].map((l) => `/v1/users/${priv.id}/${l}`);
    for (const [level, outsider, follower] of [
      ['private', 404, 404],
      ['followers', 404, 200],
      ['public', 200, 200],
    ] as const) {
      expect(
        (
          await call(h, 'PATCH', '/v1/me/profile', {
            token: priv.token,
            body: { privacyLevel: level },
          })
        ).status,
      ).toBe(200);
      for (const path of lists) {
        expect(
          (await call(h, 'GET', path, { token: alice.token })).status,
          `${level} ${path}`,
        ).toBe(outsider);
        expect((await call(h, 'GET', path, { token: fol.token })).status, `${level} ${path}`).toBe(
          follower,
        );
        expect(
          (await call(h, 'GET', path, { token: priv.token })).status,
          `${level} own ${path}`,
        ).toBe(200);
      }
    }
  }, 120_000);

  it('guards /metrics and /docs with the operator token; health stays open', async () => {
    expect((await call(h, 'GET', '/metrics')).status).toBe(401);
    expect((await call(h, 'GET', '/metrics', { token: alice.token })).status).toBe(401);
    expect((await call(h, 'GET', '/metrics', { token: OPS_TOKEN })).status).toBe(200);
    expect((await call(h, 'GET', '/docs')).status).toBe(401);
    expect((await call(h, 'GET', '/docs/static/index.html')).status).toBe(401);
    expect((await call(h, 'GET', '/docs', { token: OPS_TOKEN })).status).toBeLessThan(400);
    expect((await call(h, 'GET', '/health/live')).status).toBe(200);
  });
});
