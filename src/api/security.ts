import { timingSafeEqual } from 'node:crypto';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import type { DomainContext } from '../domain/context.ts';
import { readContext } from '../domain/read-context.ts';
import { UnauthenticatedError } from '../errors.ts';

export interface SecurityOptions {
  /** Tokens of deleted accounts are refused on every route (checked through the read context). */
  ctx: DomainContext;
  /** When set, /metrics and /docs need `Authorization: Bearer <opsToken>`. */
  opsToken?: string;
}

const OPS_PATHS = /^\/(metrics|docs)(\/|\?|$)/;

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * Response headers and the checks every request passes: @fastify/helmet's headers (nosniff,
 * frame denial, HSTS, no referrer...; the JSON API serves no HTML, the docs UI sets its own
 * CSP), `Cache-Control: no-store` on anything answered to a bearer token, a deleted account's
 * token refused everywhere (401), and the operator token in front of /metrics and /docs.
 */
export async function installSecurity(app: FastifyInstance, opts: SecurityOptions): Promise<void> {
  await app.register(fastifyHelmet, { global: true, contentSecurityPolicy: false });

  app.addHook('onRequest', async (request) => {
    if (!opts.opsToken || !OPS_PATHS.test(request.url)) return;
    const auth = request.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !sameSecret(auth.slice(7), opts.opsToken))
      throw new UnauthenticatedError('this endpoint needs the operator token');
  });

  app.addHook('preHandler', async (request) => {
    // Set by authenticate (onRequest): the account must still exist, whatever the route reads.
    // The read context's fetch refuses a deleted account (401); it is cached a few seconds and
    // dropped at once when the account is deleted in this process, so a warm read costs nothing.
    if (request.userId) await readContext(opts.ctx, request.userId);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (request.headers.authorization) reply.header('cache-control', 'no-store');
    return payload;
  });
}
