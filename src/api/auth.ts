import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { UnauthenticatedError } from '../errors.ts';

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string };
    user: { sub: string };
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (set by `authenticate`). */
    userId: string;
  }
}

const tokenClaims = z.object({ sub: z.guid() });

/** Default access-token lifetime (config ACCESS_TOKEN_TTL_SECONDS). */
export const ACCESS_TOKEN_TTL_SECONDS = 24 * 60 * 60;

/** preHandler for authenticated routes: missing, malformed, expired or forged token → 401. */
export async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  if (!request.headers.authorization) throw new UnauthenticatedError('missing bearer token');
  // Already verified when the rate limiter keyed the request by it (rate-limits.ts).
  let claims: unknown = request.user;
  if (!claims) {
    try {
      claims = await request.jwtVerify();
    } catch {
      throw new UnauthenticatedError('invalid or expired token');
    }
  }
  const parsed = tokenClaims.safeParse(claims);
  if (!parsed.success) throw new UnauthenticatedError('invalid token');
  request.userId = parsed.data.sub;
}

export const signAccessToken = (app: FastifyInstance, userId: string) =>
  app.jwt.sign({ sub: userId });
