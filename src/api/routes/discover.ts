import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DomainContext } from '../../domain/context.ts';
import { discoverPosts, discoverUsers } from '../../domain/discover.ts';
import { cursor, limit, tag, text } from '../../domain/schemas.ts';
import { authenticate } from '../auth.ts';
import { bearer, errors, listOf, post, profileSummary } from '../schemas.ts';

/** GET /v1/discover/posts and /v1/discover/users: from the projections, keyset-paged. */
export const discoverRoutes: FastifyPluginAsyncZod<{ ctx: DomainContext }> = async (
  app,
  { ctx },
) => {
  app.addHook('onRequest', authenticate);

  app.get(
    '/v1/discover/posts',
    {
      schema: {
        tags: ['discover'],
        summary:
          'Published posts newest first, optionally only those with one tag (case- and accent-insensitive)',
        security: bearer,
        querystring: z.object({ limit, cursor: cursor.optional(), tag: tag.optional() }),
        response: { 200: listOf(post), ...errors(400, 401) },
      },
    },
    async (request) => discoverPosts(ctx, request.userId, request.query),
  );

  app.get(
    '/v1/discover/users',
    {
      schema: {
        tags: ['discover'],
        summary:
          'Public profiles whose display name starts with q (case- and accent-insensitive), by name',
        security: bearer,
        querystring: z.object({
          limit,
          cursor: cursor.optional(),
          q: text()
            .max(50)
            .meta({ examples: ['ali'] })
            .optional(),
        }),
        response: { 200: listOf(profileSummary), ...errors(400, 401) },
      },
    },
    async (request) => discoverUsers(ctx, request.userId, request.query),
  );
};
