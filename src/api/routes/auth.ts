import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { login, register } from '../../domain/auth.ts';
import { loginInput, registerInput } from '../../domain/schemas.ts';
import { signAccessToken } from '../auth.ts';
import type { RouteOptions } from '../route-options.ts';
import { authResult, errors, idempotencyHeaders } from '../schemas.ts';

/** POST /v1/auth/register, POST /v1/auth/login. */
export const authRoutes: FastifyPluginAsyncZod<RouteOptions> = async (
  app,
  { ctx, idempotent, limitAuth },
) => {
  app.post(
    '/v1/auth/register',
    {
      preHandler: [limitAuth, idempotent],
      schema: {
        headers: idempotencyHeaders,
        tags: ['auth'],
        summary: 'Create an account (email, password, display name)',
        body: registerInput,
        response: { 201: authResult, ...errors(400, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      const user = await register(ctx, request.body);
      return reply.status(201).send({
        user: { id: user.id, email: user.email },
        accessToken: signAccessToken(app, user.id),
      });
    },
  );

  app.post(
    '/v1/auth/login',
    {
      preHandler: limitAuth,
      schema: {
        tags: ['auth'],
        summary: 'Exchange email and password for an access token',
        body: loginInput,
        response: { 200: authResult, ...errors(400, 401, 429) },
      },
    },
    async (request) => {
      const user = await login(ctx, request.body);
      return {
        user: { id: user.id, email: user.email },
        accessToken: signAccessToken(app, user.id),
      };
    },
  );
};
