import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from './schema.ts';

export type { components, operations, paths } from './schema.ts';

export type AsoraClient = Client<paths>;

/**
 * A typed client of the HTTP API (openapi-fetch over the types generated from the OpenAPI
 * document by `npm run api:client`): paths, parameters, bodies and replies are checked by
 * the compiler. `token()` supplies the bearer token for each request, if any.
 */
export function createAsoraClient(
  baseUrl: string,
  opts: { token?: () => string | undefined; fetch?: typeof globalThis.fetch } = {},
): AsoraClient {
  const client = createClient<paths>({ baseUrl, fetch: opts.fetch });
  const auth: Middleware = {
    onRequest({ request }) {
      const token = opts.token?.();
      if (token) request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
  };
  client.use(auth);
  return client;
}
