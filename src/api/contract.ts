import type { FastifyInstance, HTTPMethods, RouteOptions } from 'fastify';
import { errorBody } from './schemas.ts';

/**
 * The parts of the API contract that hold for every route, applied in one place so no
 * route can forget them: an `operationId`, the shared error responses (413/415
 * wherever a body can be sent, 400, 429 and 503 everywhere under /v1), and 405 with `Allow` for a documented
 * path asked with a method it does not serve.
 */

const METHODS: HTTPMethods[] = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'];

/** `GET /v1/users/:userId/profile` → `getUsersByUserIdProfile`. */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((s) => s && s !== 'v1')
    .flatMap((s) => (s.startsWith(':') ? ['by', s.slice(1)] : s.split(/[-_]/)));
  return method.toLowerCase() + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

type Schema = { body?: unknown; hide?: boolean; operationId?: string; response?: object };

/** Registers the onRoute hook; call before any route, and `finish()` after the last. */
export function installContract(app: FastifyInstance): { finish(): void } {
  const served = new Map<string, Set<string>>();
  const documented = new Set<string>();
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = [route.method].flat();
    const known = served.get(route.url) ?? new Set<string>();
    for (const m of methods) known.add(m);
    served.set(route.url, known);
    const schema = route.schema as Schema | undefined;
    if (!schema || schema.hide || methods.includes('HEAD')) return;
    documented.add(route.url);
    schema.operationId ??= operationIdOf(methods[0]!, route.url);
    if (!route.url.startsWith('/v1/')) return;
    // Fastify parses a body on every method but GET and HEAD, declared or not: malformed
    // JSON (400), too large (413), unsupported media type (415). Any request may be a 400
    // (input hygiene rejects NUL bytes and lone surrogates in the query and headers too).
    const shared = methods.includes('GET') ? [400, 429, 503] : [400, 413, 415, 429, 503];
    schema.response = {
      ...Object.fromEntries(shared.map((c) => [c, errorBody])),
      ...schema.response,
    };
  });
  return {
    finish() {
      for (const url of documented) {
        const known = served.get(url)!;
        const missing = METHODS.filter((m) => !known.has(m));
        if (missing.length === 0) continue;
        const allow = METHODS.filter((m) => known.has(m)).join(', ');
        app.route({
          method: missing,
          url,
          schema: { hide: true },
          handler: async (request, reply) =>
            reply
              .status(405)
              .header('allow', allow)
              .send({
                error: {
                  code: 'method_not_allowed',
                  message: `${request.method} is not allowed on ${url}; allowed: ${allow}`,
                },
              }),
        });
      }
    },
  };
}
