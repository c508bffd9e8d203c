import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decideAppeal, decideCase, listCases, searchPosts } from '../../domain/admin.ts';
import type { DomainContext } from '../../domain/context.ts';
import {
  appealDecisionInput,
  caseDecisionInput,
  cursor,
  id,
  limit,
  text,
} from '../../domain/schemas.ts';
import { authenticate } from '../auth.ts';
import { adminPost, appeal, bearer, errors, listOf, moderationCase } from '../schemas.ts';

/** Admin and moderator routes; everyone else gets 403 (decided from the users row, not the token). */
export const adminRoutes: FastifyPluginAsyncZod<{ ctx: DomainContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', authenticate);

  app.get(
    '/v1/admin/cases',
    {
      schema: {
        tags: ['admin'],
        summary: 'Moderation cases, newest first',
        security: bearer,
        querystring: z.object({
          status: z.enum(['open', 'under_review', 'actioned', 'dismissed']).optional(),
          limit,
          cursor: cursor.optional(),
        }),
        response: { 200: listOf(moderationCase), ...errors(400, 401, 403) },
      },
    },
    async (request) => listCases(ctx, request.userId, request.query),
  );

  app.patch(
    '/v1/admin/cases/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Review or decide a case (decision remove → the post is removed)',
        security: bearer,
        params: z.object({ id }),
        body: caseDecisionInput,
        response: { 200: moderationCase, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => decideCase(ctx, request.userId, request.params.id, request.body),
  );

  app.patch(
    '/v1/admin/appeals/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Decide an appeal (approved → removed content is restored)',
        security: bearer,
        params: z.object({ id }),
        body: appealDecisionInput,
        response: { 200: appeal, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => decideAppeal(ctx, request.userId, request.params.id, request.body),
  );

  app.get(
    '/v1/admin/posts/search',
    {
      schema: {
        tags: ['admin'],
        summary: 'Full-text search over every post (posts_admin_mirror)',
        security: bearer,
        querystring: z.object({
          q: text()
            .trim()
            .min(1)
            .max(200)
            .meta({ examples: ['spam'] }),
          limit,
        }),
        response: { 200: listOf(adminPost), ...errors(400, 401, 403) },
      },
    },
    async (request) => searchPosts(ctx, request.userId, request.query),
  );
};
