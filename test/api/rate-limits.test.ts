import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import type { RateLimitOptions } from '../../src/api/rate-limits.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, register, type TestUser } from './harness.ts';

const SECRET = 'test-secret-test-secret-test-secret-1234';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const limits = (over: Partial<RateLimitOptions> = {}): RateLimitOptions => ({
  perToken: { max: 1_000, windowMs: 60_000 },
  auth: { perIpMax: 1_000, perAccountMax: 5, windowMs: 60_000 },
  ...over,
});

describe(`rate limits (${engineName})`, () => {
  const h = useApi();
  let victim: TestUser;
  let redis: Redis;
  const extra: FastifyInstance[] = [];

  /** Another API instance on the same stores with its own limits. */
  const instance = async (rateLimits: RateLimitOptions) => {
    const app = await buildApp({
      ctx: h.ctx,
      jwtSecret: SECRET,
      log: silentLogger,
      metrics: new Metrics(),
      rateLimits,
    });
    extra.push(app);
    return { ...h, base: await app.listen({ port: 0, host: '127.0.0.1' }) };
  };

  beforeAll(async () => {
    victim = await register(h, 'rl-victim');
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: 2_000 });
  }, 120_000);
  afterAll(async () => {
    for (const app of extra) await app.close();
    redis?.disconnect();
  });

  it('100 parallel wrong passwords, then the right one: at most 5 tried, the rest 429 with Retry-After', async () => {
    const api = await instance(limits());
    const tries = await Promise.all(
      Array.from({ length: 100 }, () =>
        call(api, 'POST', '/v1/auth/login', {
          body: { email: victim.email, password: 'wrong password!' },
        }),
      ),
    );
    expect(tries.filter((r) => r.status === 401)).toHaveLength(5);
    const limited = tries.filter((r) => r.status === 429);
    expect(limited).toHaveLength(95);
    expect(limited[0]!.body.error.code).toBe('rate_limited');
    const right = await fetch(`${api.base}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: victim.email, password: 'correct horse battery' }),
    });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another account from the same IP is not locked out by the victim's limit.
    const other = await register(h, 'rl-other');
    const ok = await call(api, 'POST', '/v1/auth/login', {
      body: { email: other.email, password: 'correct horse battery' },
    });
    expect(ok.status).toBe(200);
  });

  it('registration is limited per IP', async () => {
    const api = await instance(
      limits({ auth: { perIpMax: 3, perAccountMax: 100, windowMs: 60_000 } }),
    );
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(api, 'POST', '/v1/auth/register', {
        body: {
          email: `rl-reg-${process.pid}-${i}-${randomBytes(3).toString('hex')}@example.com`,
          password: 'correct horse battery',
          displayName: 'R',
        },
      });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
  });

  it('a global limit per token', async () => {
    const api = await instance(limits({ perToken: { max: 3, windowMs: 60_000 } }));
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await call(api, 'GET', '/v1/me', { token: victim.token })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it('requests without a valid token count against the IP, junk tokens and unknown routes included', async () => {
    const api = await instance(limits({ perToken: { max: 4, windowMs: 60_000 } }));
    const statuses: number[] = [];
    for (const token of ['junk-1', 'junk-2', undefined, 'junk-3', 'junk-4', undefined])
      statuses.push((await call(api, 'GET', '/v1/me', { token })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
    expect((await call(api, 'GET', '/v1/no-such-route')).status).toBe(429);
    expect((await fetch(`${api.base}/openapi.json`)).status).toBe(429);
    // Probes are never limited (this instance mounts no health routes: 404, not 429).
    expect((await fetch(`${api.base}/health/live`)).status).toBe(404);
    // A valid token has its own bucket, untouched by the IP's.
    expect((await call(api, 'GET', '/v1/me', { token: victim.token })).status).toBe(200);
  });

  it('with Redis, two API instances share the limits', async () => {
    const nameSpace = `asora-rl-test-${randomBytes(6).toString('hex')}:`;
    const shared = limits({ redis, nameSpace });
    const [a, b] = [await instance(shared), await instance(shared)];
    const who = await register(h, 'rl-shared');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await call(i % 2 ? b : a, 'POST', '/v1/auth/login', {
        body: { email: who.email, password: 'wrong password!' },
      });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    expect((await redis.keys(`${nameSpace}*`)).length).toBeGreaterThan(0);
    const keys = await redis.keys(`${nameSpace}*`);
    if (keys.length) await redis.del(...keys);
  });
});
