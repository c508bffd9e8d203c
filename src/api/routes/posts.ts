import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createPost, deletePost, editPost, getPost } from '../../domain/posts.ts';
import { createPostInput, editPostInput, id } from '../../domain/schemas.ts';
import { authenticate } from '../auth.ts';
import type { RouteOptions } from '../route-options.ts';
import { bearer, errors, idempotencyHeaders, noContent, post } from '../schemas.ts';

const postParams = z.object({ postId: id });

/** POST /v1/posts and GET / PATCH / DELETE /v1/posts/:postId. */
export const postRoutes: FastifyPluginAsyncZod<RouteOptions> = async (app, { ctx, idempotent }) => {
  app.addHook('onRequest', authenticate);

  app.post(
    '/v1/posts',
    {
      preHandler: idempotent,
      schema: {
        headers: idempotencyHeaders,
        tags: ['posts'],
        summary: 'Create a post (canonical + outbox, then posts_v2 for read-after-write)',
        security: bearer,
        body: createPostInput,
        response: { 201: post, ...errors(400, 401, 409, 422) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await createPost(ctx, request.userId, request.body)),
  );

  app.get(
    '/v1/posts/:postId',
    {
      schema: {
        tags: ['posts'],
        summary: 'A post with its reaction counts',
        security: bearer,
        params: postParams,
        response: { 200: post, ...errors(400, 401, 404) },
      },
    },
    async (request) => getPost(ctx, request.userId, request.params.postId),
  );

  app.patch(
    '/v1/posts/:postId',
    {
      schema: {
        tags: ['posts'],
        summary: 'Edit a post (author only; optional `version` for optimistic concurrency)',
        security: bearer,
        params: postParams,
        body: editPostInput,
        response: { 200: post, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => editPost(ctx, request.userId, request.params.postId, request.body),
  );

  app.delete(
    '/v1/posts/:postId',
    {
      schema: {
        tags: ['posts'],
        summary: 'Delete a post (author, admin or moderator)',
        security: bearer,
        params: postParams,
        response: { 204: noContent, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await deletePost(ctx, request.userId, request.params.postId);
      return reply.status(204).send();
    },
  );
};
