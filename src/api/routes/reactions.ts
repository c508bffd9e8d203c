import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DomainContext } from '../../domain/context.ts';
import { addReaction, listReactions, removeReaction } from '../../domain/reactions.ts';
import { cursor, id, limit, reactionType } from '../../domain/schemas.ts';
import { authenticate } from '../auth.ts';
import { bearer, errors, listOf, noContent, reaction } from '../schemas.ts';

const reactionParams = z.object({ postId: id, type: reactionType });

/** PUT / DELETE /v1/posts/:postId/reactions/:type and GET /v1/posts/:postId/reactions. */
export const reactionRoutes: FastifyPluginAsyncZod<{ ctx: DomainContext }> = async (
  app,
  { ctx },
) => {
  app.addHook('onRequest', authenticate);

  app.put(
    '/v1/posts/:postId/reactions/:type',
    {
      schema: {
        tags: ['reactions'],
        summary: 'React to a post (idempotent)',
        security: bearer,
        params: reactionParams,
        response: { 204: noContent, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await addReaction(ctx, request.userId, request.params.postId, request.params.type);
      return reply.status(204).send();
    },
  );

  app.delete(
    '/v1/posts/:postId/reactions/:type',
    {
      schema: {
        tags: ['reactions'],
        summary: 'Remove a reaction (idempotent)',
        security: bearer,
        params: reactionParams,
        response: { 204: noContent, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await removeReaction(ctx, request.userId, request.params.postId, request.params.type);
      return reply.status(204).send();
    },
  );

  app.get(
    '/v1/posts/:postId/reactions',
    {
      schema: {
        tags: ['reactions'],
        summary: 'Reactions on a post, newest first',
        security: bearer,
        params: z.object({ postId: id }),
        querystring: z.object({ type: reactionType.optional(), limit, cursor: cursor.optional() }),
        response: { 200: listOf(reaction), ...errors(400, 401, 404) },
      },
    },
    async (request) => listReactions(ctx, request.userId, request.params.postId, request.query),
  );
};
