import { createHmac } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/api/document.ts';
import { installErrorHandling } from '../../src/api/errors.ts';
import { installSessions, SESSION_HEADER } from '../../src/api/session.ts';
import { currentSession } from '../../src/projections/session.ts';

/**
 * x-asora-session: a write's session tokens go out signed, come back on the next request
 * (to any instance with the same secret) and are the current session of that request's
 * store calls (projections/session.ts; cosmos-recorded.test.ts shows the SDK sending them).
 */
describe('x-asora-session', () => {
  const instance = async (): Promise<FastifyInstance> => {
    const app = Fastify();
    installErrorHandling(app);
    installSessions(app, 'shared-secret');
    // What a sessionScoped store does on a write, and what it sends on a read.
    app.post('/write', async () => {
      await new Promise((r) => setTimeout(r, 5)); // the session survives async hops
      currentSession()?.note('notifications', '0:-1#42');
      return { ok: true };
    });
    app.get('/read', async () => ({ token: currentSession()?.tokenFor('notifications') ?? null }));
    await app.ready();
    return app;
  };
  let a: FastifyInstance;
  let b: FastifyInstance;
  beforeAll(async () => {
    [a, b] = await Promise.all([instance(), instance()]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('a write on instance A returns the header; sent to instance B, its reads use the token', async () => {
    const w = await a.inject({ method: 'POST', url: '/write' });
    const header = w.headers[SESSION_HEADER];
    expect(typeof header).toBe('string');
    const r = await b.inject({
      method: 'GET',
      url: '/read',
      headers: { [SESSION_HEADER]: header },
    });
    expect(r.json()).toEqual({ token: '0:-1#42' });
    expect(r.headers[SESSION_HEADER]).toBeUndefined(); // a read adds nothing: no new header
    const none = await b.inject({ method: 'GET', url: '/read' });
    expect(none.json()).toEqual({ token: null });
  });

  it('a forged or altered header is a 400 and the handler does not run', async () => {
    const w = await a.inject({ method: 'POST', url: '/write' });
    const header = String(w.headers[SESSION_HEADER]);
    const [body] = header.split('.');
    const forged = Buffer.from(JSON.stringify({ notifications: '0:-1#999999' })).toString(
      'base64url',
    );
    for (const bad of [`${forged}.${header.split('.')[1]}`, `${body}.xx`, 'garbage', '.']) {
      const r = await b.inject({
        method: 'POST',
        url: '/write',
        headers: { [SESSION_HEADER]: bad },
      });
      expect(r.statusCode, bad).toBe(400);
      expect(r.json().error.code).toBe('invalid_input');
    }
  });

  it('a correctly signed header that does not hold a session is a 400, not a 500', async () => {
    // Signed as the API signs (a leaked secret, or another version's format).
    const key = createHmac('sha256', 'shared-secret').update('asora session v1').digest();
    const signed = (content: string) => {
      const body = Buffer.from(content).toString('base64url');
      return `${body}.${createHmac('sha256', key).update(body).digest('base64url').slice(0, 22)}`;
    };
    const ok = await b.inject({
      method: 'GET',
      url: '/read',
      headers: { [SESSION_HEADER]: signed('{"notifications":"0:-1#7"}') },
    });
    expect(ok.json()).toEqual({ token: '0:-1#7' }); // the signing here is the API's
    for (const content of ['not json', 'null', '[1]', '"x"', '{"notifications":7}']) {
      const r = await b.inject({
        method: 'GET',
        url: '/read',
        headers: { [SESSION_HEADER]: signed(content) },
      });
      expect(r.statusCode, content).toBe(400);
      expect(r.json().error.code).toBe('invalid_input');
    }
  });

  it('the OpenAPI document declares the header on authenticated operations', async () => {
    const doc = (await openApiDocument()) as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    };
    const params = doc.paths['/v1/notifications/{id}/read']?.post?.parameters ?? [];
    expect(params).toContainEqual(expect.objectContaining({ name: SESSION_HEADER, in: 'header' }));
  });
});
