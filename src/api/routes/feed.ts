import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DomainContext } from '../../domain/context.ts';
import { readFeed } from '../../domain/feed.ts';
import { cursor, limit } from '../../domain/schemas.ts';
import { authenticate } from '../auth.ts';
import { bearer, errors, listOf, post } from '../schemas.ts';

/** GET /v1/feed. */
export const feedRoutes: FastifyPluginAsyncZod<{ ctx: DomainContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', authenticate);

  app.get(
    '/v1/feed',
    {
      schema: {
        tags: ['feed'],
        summary: "The caller's home feed, newest first (default 50 items)",
        security: bearer,
        querystring: z.object({ limit, cursor: cursor.optional() }),
        response: { 200: listOf(post), ...errors(400, 401) },
      },
    },
    async (request) => readFeed(ctx, request.userId, request.query),
  );
};
