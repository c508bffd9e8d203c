import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ValidationError } from '../errors.ts';

const SIG_LENGTH = 22; // base64url of 128 bits

/** Query parameters that page a list rather than choose it: they may change between pages. */
const PAGING = new Set(['cursor', 'limit']);

/**
 * Every list cursor the API hands out is signed (HMAC-SHA256) for the route, the path
 * parameters, the filters and the caller it was issued to; a cursor that was forged, altered,
 * or issued for another list (or the same list with other filters) or another caller is a 400
 * `invalid_input` before any store sees it. Lists are `{items, cursor}` replies and take the
 * cursor back as `?cursor=`.
 */
export function installSignedCursors(app: FastifyInstance, secret: string): void {
  const key = createHmac('sha256', secret).update('asora list cursor v1').digest();
  const scopeOf = (request: FastifyRequest) => {
    const query = Object.entries((request.query ?? {}) as Record<string, unknown>).filter(
      ([k, v]) => !PAGING.has(k) && v !== undefined,
    );
    return [
      request.routeOptions.url,
      request.userId,
      JSON.stringify(request.params ?? {}),
      JSON.stringify(query),
    ].join('\n');
  };
  const sign = (request: FastifyRequest, cursor: string) =>
    createHmac('sha256', key)
      .update(`${scopeOf(request)}\n${cursor}`)
      .digest('base64url')
      .slice(0, SIG_LENGTH);

  // After validation: the scope is then read from the parameters in the one form the
  // schemas give them (a UUID in any case, a filter as parsed), as it is when signing.
  app.addHook('preHandler', async (request) => {
    const query = request.query as Record<string, unknown> | undefined;
    const given = query?.cursor;
    if (typeof given !== 'string' || given === '') return;
    const dot = given.lastIndexOf('.');
    const cursor = given.slice(0, Math.max(dot, 0));
    const sig = Buffer.from(given.slice(dot + 1));
    const expected = Buffer.from(dot > 0 ? sign(request, cursor) : '');
    if (dot <= 0 || sig.length !== expected.length || !timingSafeEqual(sig, expected)) {
      throw new ValidationError('invalid cursor: pass back the cursor of the previous page', {
        field: 'cursor',
      });
    }
    query!.cursor = cursor;
  });

  app.addHook('preSerialization', async (request, reply, payload) => {
    if (reply.statusCode >= 300 || typeof payload !== 'object' || payload === null) return payload;
    const list = payload as { items?: unknown; cursor?: unknown };
    if (!Array.isArray(list.items) || typeof list.cursor !== 'string') return payload;
    return { ...list, cursor: `${list.cursor}.${sign(request, list.cursor)}` };
  });
}
