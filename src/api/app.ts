import fastifyJwt from '@fastify/jwt';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { DomainContext } from '../domain/context.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import {
  newRequestCost,
  type RequestCost,
  withRequestCost,
} from '../observability/request-cost.ts';
import { ACCESS_TOKEN_TTL_SECONDS } from './auth.ts';
import { installContract } from './contract.ts';
import { installSignedCursors } from './cursors.ts';
import { clientErrorHandler, installErrorHandling } from './errors.ts';
import { installIdempotency } from './idempotency.ts';
import { swaggerOptions } from './openapi.ts';
import { installRateLimits, type LimitHandler, type RateLimitOptions } from './rate-limits.ts';
import type { RouteOptions } from './route-options.ts';
import { adminRoutes } from './routes/admin.ts';
import { authRoutes } from './routes/auth.ts';
import { discoverRoutes } from './routes/discover.ts';
import { feedRoutes } from './routes/feed.ts';
import { meRoutes } from './routes/me.ts';
import { moderationRoutes } from './routes/moderation.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { type OpsRoutesOptions, opsRoutes } from './routes/ops.ts';
import { type OpsAdminOptions, opsAdminRoutes } from './routes/ops-admin.ts';
import { opsConsoleRoutes } from './routes/ops-console.ts';
import { postRoutes } from './routes/posts.ts';
import { reactionRoutes } from './routes/reactions.ts';
import { userRoutes } from './routes/users.ts';
import { installSecurity } from './security.ts';
import { serializerCompiler } from './serializer.ts';
import { installSessions } from './session.ts';

declare module 'fastify' {
  interface FastifyRequest {
    cost: RequestCost | null;
  }
}

export interface AppOptions {
  ctx: DomainContext;
  jwtSecret: string;
  log: Logger;
  metrics: Metrics;
  /** Idempotency-Key retention; defaults: kept 24 h, an unfinished claim taken over after 60 s. */
  idempotency?: { ttlSeconds?: number; staleSeconds?: number };
  /** Access-token lifetime in seconds (default 24 h). */
  tokenTtlSeconds?: number;
  /** When set, /metrics and /docs need `Authorization: Bearer <opsToken>`. */
  opsToken?: string;
  /** Abuse limits; omitted = none (tests that do not exercise them). */
  rateLimits?: RateLimitOptions;
  /** Health endpoints and /metrics; omitted in tests that do not need them. */
  ops?: OpsRoutesOptions;
  /** The ops console (/ops) and the admin runbook endpoints (/ops/api). */
  opsAdmin?: OpsAdminOptions;
}

/**
 * The HTTP API v1: Fastify with zod schemas that validate requests, serialize replies and
 * generate the OpenAPI document (/openapi.json, UI at /docs).
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const base = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    // Keep-alive sockets must not hold a graceful shutdown open.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Loading the docs UI's assets can exceed the 10 s default on a busy machine.
    pluginTimeout: 120_000,
    // Undecodable URLs and over-long path parameters are malformed ids: 400 in the documented shape.
    frameworkErrors: (err, _request, reply) => {
      (reply as FastifyReply)
        .status(400)
        .send({ error: { code: 'invalid_input', message: err.message } });
    },
    // Requests Node cannot parse (oversized headers, malformed HTTP): the error shape too.
    clientErrorHandler: clientErrorHandler(opts.log as FastifyBaseLogger),
  });
  installErrorHandling(base);
  // Bodies are JSON only: a text/plain body is a 415 like any other media type, not a
  // string that the body schema then refuses as the wrong type.
  base.removeContentTypeParser('text/plain');
  // Bodies are UTF-8: other bytes would be decoded to U+FFFD and stored without a word (as a
  // lone surrogate would be, which validation refuses), so they are malformed JSON instead.
  const parseJson = base.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  base.removeContentTypeParser('application/json');
  base.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let json: string;
    try {
      json = utf8.decode(body as Buffer);
    } catch {
      done(new AppError(400, 'invalid_json', 'request body is not valid UTF-8'), undefined);
      return;
    }
    parseJson(request, json, done);
  });
  const app = base.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // Every statement and store call made while serving a request is counted on its record
  // (async context set here, before any hook or handler runs).
  app.decorateRequest('cost', null);
  app.addHook('onRequest', (request, _reply, done) => {
    request.cost = newRequestCost();
    withRequestCost(request.cost, done);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    opts.metrics.httpDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    const cost = request.cost;
    if (cost) {
      opts.metrics.requestSqlStatements.observe(
        { method: request.method, route },
        cost.sqlStatements,
      );
      opts.metrics.requestStoreCalls.observe({ method: request.method, route }, cost.storeCalls);
      request.log.debug({ route, ...cost }, 'request cost');
    }
  });

  // HS256 only, `exp` required: a token signed another way, or one that never expires, is refused.
  await app.register(fastifyJwt, {
    secret: opts.jwtSecret,
    sign: { algorithm: 'HS256', expiresIn: opts.tokenTtlSeconds ?? ACCESS_TOKEN_TTL_SECONDS },
    verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] },
  });
  app.decorateRequest('userId', '');
  // Before any route, so its root hook counts every request (the docs' included,
  // and those the security hooks refuse).
  const limitAuth: LimitHandler = opts.rateLimits
    ? await installRateLimits(base, opts.rateLimits)
    : async () => {};
  await installSecurity(base, { ctx: opts.ctx, opsToken: opts.opsToken });

  const contract = installContract(base);
  await app.register(fastifySwagger, swaggerOptions());
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  installSignedCursors(base, opts.jwtSecret);
  installSessions(base, opts.jwtSecret);
  const idempotent = installIdempotency(base, {
    db: opts.ctx.db,
    workerDb: opts.ctx.workerDb,
    ttlSeconds: opts.idempotency?.ttlSeconds ?? 86_400,
    staleSeconds: opts.idempotency?.staleSeconds ?? 60,
  });
  const routeOpts: RouteOptions = { ctx: opts.ctx, idempotent, limitAuth };
  await app.register(authRoutes, routeOpts);
  await app.register(meRoutes, routeOpts);
  await app.register(userRoutes, routeOpts);
  await app.register(postRoutes, routeOpts);
  await app.register(reactionRoutes, routeOpts);
  await app.register(feedRoutes, routeOpts);
  await app.register(discoverRoutes, routeOpts);
  await app.register(notificationRoutes, routeOpts);
  await app.register(moderationRoutes, routeOpts);
  await app.register(adminRoutes, routeOpts);
  if (opts.ops) await app.register(opsRoutes, opts.ops);
  if (opts.opsAdmin) {
    await app.register(opsAdminRoutes, { ...opts.opsAdmin, sessionsDb: opts.ctx.db });
    await app.register(opsConsoleRoutes);
  }
  contract.finish();
  await app.ready();
  return base;
}
