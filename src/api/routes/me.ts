import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { deleteAccount, exportAccount } from '../../domain/account.ts';
import type { DomainContext } from '../../domain/context.ts';
import { myAppeals } from '../../domain/moderation.ts';
import { getMe, updateProfile } from '../../domain/profiles.ts';
import { profilePatch } from '../../domain/schemas.ts';
import { authenticate } from '../auth.ts';
import {
  accountExport,
  appeal,
  bearer,
  errors,
  listOf,
  me,
  noContent,
  profile,
} from '../schemas.ts';

/** The caller's own account: GET /v1/me, PATCH /v1/me/profile, appeals, export, deletion. */
export const meRoutes: FastifyPluginAsyncZod<{ ctx: DomainContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', authenticate);

  app.get(
    '/v1/me',
    {
      schema: {
        tags: ['me'],
        summary: 'Own user and profile',
        security: bearer,
        response: { 200: me, ...errors(401) },
      },
    },
    async (request) => getMe(ctx, request.userId),
  );

  app.patch(
    '/v1/me/profile',
    {
      schema: {
        tags: ['me'],
        summary: 'Edit own profile',
        security: bearer,
        body: profilePatch,
        response: { 200: profile, ...errors(400, 401) },
      },
    },
    async (request) => updateProfile(ctx, request.userId, request.body),
  );

  app.get(
    '/v1/me/appeals',
    {
      schema: {
        tags: ['moderation'],
        summary: 'Own appeals, newest first',
        security: bearer,
        response: { 200: listOf(appeal), ...errors(401) },
      },
    },
    async (request) => ({ items: await myAppeals(ctx, request.userId), cursor: null }),
  );

  app.get(
    '/v1/me/export',
    {
      schema: {
        tags: ['me'],
        summary: 'Export everything the platform holds about the caller',
        security: bearer,
        response: { 200: accountExport, ...errors(401) },
      },
    },
    async (request) => exportAccount(ctx, request.userId),
  );

  app.delete(
    '/v1/me',
    {
      schema: {
        tags: ['me'],
        summary: 'Delete own account (canonical soft delete; projections purged by the pipeline)',
        security: bearer,
        response: { 204: noContent, ...errors(401) },
      },
    },
    async (request, reply) => {
      await deleteAccount(ctx, request.userId);
      return reply.status(204).send();
    },
  );
};
