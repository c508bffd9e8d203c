import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DomainContext } from '../../domain/context.ts';
import { listFollows } from '../../domain/follow-lists.ts';
import { listUserPosts } from '../../domain/posts.ts';
import { getProfile } from '../../domain/profiles.ts';
import { addRelation, type Relation, removeRelation } from '../../domain/relationships.ts';
import { cursor, id, limit } from '../../domain/schemas.ts';
import { authenticate } from '../auth.ts';
import { bearer, errors, followEntry, listOf, noContent, post, profile } from '../schemas.ts';

const userParams = z.object({ userId: id });
const pageQuery = z.object({ limit, cursor: cursor.optional() });

/** Profiles, relationships (follow / block / mute), follower lists and an author's posts. */
export const userRoutes: FastifyPluginAsyncZod<{ ctx: DomainContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', authenticate);

  app.get(
    '/v1/users/:userId/profile',
    {
      schema: {
        tags: ['users'],
        summary: 'A user profile with follower, following and post counts',
        security: bearer,
        params: userParams,
        response: { 200: profile, ...errors(400, 401, 404) },
      },
    },
    async (request) => getProfile(ctx, request.userId, request.params.userId),
  );

  for (const relation of ['follow', 'block', 'mute'] as Relation[]) {
    const common = { tags: ['users'], security: bearer, params: userParams };
    app.put(
      `/v1/users/:userId/${relation}`,
      {
        schema: {
          ...common,
          summary: `${relation} a user (idempotent)`,
          response: { 204: noContent, ...errors(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await addRelation(ctx, request.userId, request.params.userId, relation);
        return reply.status(204).send();
      },
    );
    app.delete(
      `/v1/users/:userId/${relation}`,
      {
        schema: {
          ...common,
          summary: `un${relation} a user (idempotent)`,
          response: { 204: noContent, ...errors(400, 401, 404) },
        },
      },
      async (request, reply) => {
        await removeRelation(ctx, request.userId, request.params.userId, relation);
        return reply.status(204).send();
      },
    );
  }

  for (const direction of ['followers', 'following'] as const) {
    app.get(
      `/v1/users/:userId/${direction}`,
      {
        schema: {
          tags: ['users'],
          summary: direction === 'followers' ? 'Who follows the user' : 'Whom the user follows',
          security: bearer,
          params: userParams,
          querystring: pageQuery,
          response: { 200: listOf(followEntry), ...errors(400, 401, 404) },
        },
      },
      async (request) =>
        listFollows(ctx, request.userId, request.params.userId, direction, request.query),
    );
  }

  app.get(
    '/v1/users/:userId/posts',
    {
      schema: {
        tags: ['posts'],
        summary: "An author's published posts, newest first",
        security: bearer,
        params: userParams,
        querystring: pageQuery,
        response: { 200: listOf(post), ...errors(400, 401, 404) },
      },
    },
    async (request) => listUserPosts(ctx, request.userId, request.params.userId, request.query),
  );
};
