import { createHash } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError } from '../errors.ts';

export interface RateLimitOptions {
  /** Every request, keyed by bearer token (or client IP without one). */
  perToken: { max: number; windowMs: number };
  /** Login and registration attempts, per client IP and per account (email). */
  auth: { perIpMax: number; perAccountMax: number; windowMs: number };
  /** Shared counters for several API instances; in-memory (per instance) when absent. */
  redis?: Redis;
  /** Redis key prefix (tests give each run its own). */
  nameSpace?: string;
}

export type LimitHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

const rateLimited = (seconds: number) =>
  new AppError(429, 'rate_limited', `too many requests; retry in ${seconds} s`);

/**
 * A token that verifies is its own bucket; anything else (no token, a forged, expired or
 * garbage one) counts against the client IP, so rotating junk tokens buys no fresh limit.
 * The verification sets `request.user`, which `authenticate` takes as is: once a request.
 */
const tokenKey = async (request: FastifyRequest) => {
  const auth = request.headers.authorization;
  if (auth) {
    try {
      await request.jwtVerify();
      return `token:${createHash('sha256').update(auth).digest('base64url').slice(0, 32)}`;
    } catch {
      // not a valid token: the IP's bucket
    }
  }
  return `ip:${request.ip}`;
};

/**
 * @fastify/rate-limit: a per-token limit on every request (per IP without a valid token),
 * and a preHandler for the credential routes that counts each attempt against the client IP
 * and the account. Over a limit: 429 `rate_limited` with Retry-After. A Redis outage fails open (requests are
 * served, unlimited) rather than taking the API down with it.
 */
export async function installRateLimits(
  app: FastifyInstance,
  opts: RateLimitOptions,
): Promise<LimitHandler> {
  await app.register(fastifyRateLimit, {
    global: false,
    max: opts.perToken.max,
    timeWindow: opts.perToken.windowMs,
    keyGenerator: tokenKey,
    // A limited readiness probe would turn a client's flood into a restart loop.
    allowList: (req) => req.url.startsWith('/health/'),
    ...(opts.redis ? { redis: opts.redis, nameSpace: opts.nameSpace ?? 'asora-rl:' } : {}),
    skipOnError: true,
    errorResponseBuilder: (_req, ctx) => rateLimited(Math.ceil(ctx.ttl / 1000)),
  });
  // A root hook, not the plugin's per-route one: route hooks run after the route plugins'
  // authentication, so refused requests, 404s and the docs would never be counted.
  app.addHook('onRequest', app.rateLimit());
  const { perIpMax, perAccountMax, windowMs } = opts.auth;
  const byIp = app.createRateLimit({
    max: perIpMax,
    timeWindow: windowMs,
    keyGenerator: (req) => `auth-ip:${req.ip}`,
  });
  const byAccount = app.createRateLimit({
    max: perAccountMax,
    timeWindow: windowMs,
    keyGenerator: (req) =>
      `auth-account:${String((req.body as { email?: unknown } | undefined)?.email ?? '').toLowerCase()}`,
  });
  return async (request, reply) => {
    const results = await Promise.all([byIp(request), byAccount(request)]);
    const over = results.filter((r) => !r.isAllowed && r.isExceeded);
    if (over.length === 0) return;
    const seconds = Math.max(...over.map((r) => (r.isAllowed ? 0 : r.ttlInSeconds)), 1);
    reply.header('retry-after', String(seconds));
    throw rateLimited(seconds);
  };
}
