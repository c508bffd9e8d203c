import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateClientTypes, SCHEMA_FILE } from '../../scripts/api-client.ts';
import { type AsoraClient, createAsoraClient } from '../../src/api/client/index.ts';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';

/** The generated typed client drives the API; every reply is also checked against the document. */
describe(`typed API client (${engineName})`, () => {
  const h = useApi();
  let token: string | undefined;
  let api: AsoraClient;
  const checked: string[] = [];

  beforeAll(async () => {
    const checkingFetch = async (input: string | URL | Request) => {
      const request = input instanceof Request ? input : new Request(input);
      const res = await fetch(request.clone());
      const text = await res.clone().text();
      const url = new URL(request.url);
      const problems = h.contract.violations(
        request.method,
        url.pathname + url.search,
        res.status,
        res.headers.get('content-type'),
        text,
      );
      if (problems.length > 0) throw new Error(`contract violation:\n${problems.join('\n')}`);
      checked.push(`${request.method} ${url.pathname} ${res.status}`);
      return res;
    };
    api = createAsoraClient(h.base, { token: () => token, fetch: checkingFetch });
  }, 300_000);

  it('the committed client types equal a fresh generation from the document', async () => {
    expect(await readFile(SCHEMA_FILE, 'utf8')).toBe(await generateClientTypes());
  }, 120_000);

  it('registers, posts, reacts and reads the feed; errors come back typed', async () => {
    const email = `client-${process.pid}-${Date.now()}@example.com`;
    const reg = await api.POST('/v1/auth/register', {
      body: { email, password: 'correct horse battery', displayName: 'Client' },
    });
    expect(reg.response.status).toBe(201);
    token = reg.data!.accessToken;
    const me = reg.data!.user.id;

    const created = await api.POST('/v1/posts', { body: { text: 'typed hello', tags: ['t'] } });
    expect(created.response.status).toBe(201);
    const postId = created.data!.id;
    expect(created.data).toMatchObject({ authorId: me, text: 'typed hello', status: 'published' });

    const liked = await api.PUT('/v1/posts/{postId}/reactions/{type}', {
      params: { path: { postId, type: 'like' } },
    });
    expect(liked.response.status).toBe(204);
    expect(liked.data).toBeUndefined();
    await h.drain(); // reaction lists are read from the projections
    const reactions = await api.GET('/v1/posts/{postId}/reactions', {
      params: { path: { postId }, query: { limit: 10 } },
    });
    expect(reactions.data!.items.map((r) => [r.userId, r.type])).toEqual([[me, 'like']]);

    const feed = await api.GET('/v1/feed', { params: { query: { limit: 10 } } });
    expect(feed.response.status).toBe(200);
    expect(feed.data!.items.map((p) => p.id)).toContain(postId);

    // Errors: the typed error shape, details always a list.
    const bad = await api.POST('/v1/posts', { body: { text: '' } });
    expect(bad.response.status).toBe(400);
    expect(bad.error!.error.code).toBe('invalid_input');
    expect(bad.error!.error.details![0]!.path).toBe('body.text');
    const cursor = await api.GET('/v1/feed', { params: { query: { cursor: 'garbage' } } });
    expect(cursor.response.status).toBe(400);
    expect(Array.isArray(cursor.error!.error.details)).toBe(true);
    const missing = await api.GET('/v1/posts/{postId}', {
      params: { path: { postId: '0190b5a8-0000-7000-8000-000000000000' } },
    });
    expect(missing.response.status).toBe(404);
    expect(missing.error!.error.code).toBe('not_found');
    // register rejects unknown fields like every other body
    const extra = await api.POST('/v1/auth/register', {
      body: {
        email: `x-${email}`,
        password: 'correct horse',
        displayName: 'X',
        role: 'admin',
      } as never,
    });
    expect(extra.response.status).toBe(400);
    token = undefined;
    expect((await api.GET('/v1/me')).response.status).toBe(401);
    // A known path asked with a method it does not serve: 405, Allow, the error shape.
    const wrong = await fetch(`${h.base}/v1/feed`, { method: 'PATCH' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
    const body = await wrong.text();
    expect(
      h.contract.violations('PATCH', '/v1/feed', 405, wrong.headers.get('content-type'), body),
    ).toEqual([]);
    expect(JSON.parse(body).error.code).toBe('method_not_allowed');
    const post = await fetch(`${h.base}/v1/posts/${postId}`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('DELETE, GET, HEAD, PATCH');
    expect(checked.length).toBeGreaterThanOrEqual(10);
  }, 120_000);
});
