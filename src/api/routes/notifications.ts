import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DomainContext } from '../../domain/context.ts';
import { listNotifications, markAllRead, markRead } from '../../domain/notifications.ts';
import { cursor, limit } from '../../domain/schemas.ts';
import { authenticate } from '../auth.ts';
import { bearer, errors, listOf, noContent, notification } from '../schemas.ts';

/** Notification ids are deterministic per cause (not UUIDs): bounded, printable. */
const notificationId = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\w:.-]+$/, 'malformed notification id')
  .meta({ examples: ['follow:0190b5a8-2d1c-7a3b-8f44-6b9e1c2d3a10'] });

/** GET /v1/notifications, POST /v1/notifications/:id/read, POST /v1/notifications/read-all. */
export const notificationRoutes: FastifyPluginAsyncZod<{ ctx: DomainContext }> = async (
  app,
  { ctx },
) => {
  app.addHook('onRequest', authenticate);

  app.get(
    '/v1/notifications',
    {
      schema: {
        tags: ['notifications'],
        summary: "The caller's notifications, newest first",
        security: bearer,
        querystring: z.object({
          unread: z.enum(['true', 'false']).optional(),
          limit,
          cursor: cursor.optional(),
        }),
        response: { 200: listOf(notification), ...errors(400, 401) },
      },
    },
    async (request) =>
      listNotifications(ctx, request.userId, {
        ...request.query,
        unread: request.query.unread === 'true',
      }),
  );

  app.post(
    '/v1/notifications/read-all',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Mark every notification read',
        security: bearer,
        response: { 204: noContent, ...errors(401) },
      },
    },
    async (request, reply) => {
      await markAllRead(ctx, request.userId);
      return reply.status(204).send();
    },
  );

  app.post(
    '/v1/notifications/:id/read',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Mark one notification read',
        security: bearer,
        params: z.object({ id: notificationId }),
        response: { 204: noContent, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await markRead(ctx, request.userId, request.params.id);
      return reply.status(204).send();
    },
  );
};
