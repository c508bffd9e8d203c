import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { appeal, report } from '../../domain/moderation.ts';
import { appealInput, reportInput } from '../../domain/schemas.ts';
import { authenticate } from '../auth.ts';
import type { RouteOptions } from '../route-options.ts';
import {
  appeal as appealSchema,
  bearer,
  errors,
  idempotencyHeaders,
  moderationCase,
} from '../schemas.ts';

/** POST /v1/reports and POST /v1/appeals (GET /v1/me/appeals lives with /me). */
export const moderationRoutes: FastifyPluginAsyncZod<RouteOptions> = async (
  app,
  { ctx, idempotent },
) => {
  app.addHook('onRequest', authenticate);

  app.post(
    '/v1/reports',
    {
      preHandler: idempotent,
      schema: {
        headers: idempotencyHeaders,
        tags: ['moderation'],
        summary: 'Report a post or a profile (opens a moderation case)',
        security: bearer,
        body: reportInput,
        response: { 201: moderationCase, ...errors(400, 401, 404, 409, 422) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await report(ctx, request.userId, request.body)),
  );

  app.post(
    '/v1/appeals',
    {
      preHandler: idempotent,
      schema: {
        headers: idempotencyHeaders,
        tags: ['moderation'],
        summary: 'Appeal a moderation decision',
        security: bearer,
        body: appealInput,
        response: { 201: appealSchema, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await appeal(ctx, request.userId, request.body)),
  );
};
