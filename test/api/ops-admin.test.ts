import { beforeAll, describe, expect, it } from 'vitest';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, grantRole, isErrorShape, register, rowCounts, type TestUser } from './harness.ts';

const TOKEN = 'local-admin-token-'.padEnd(64, 'x');

/** /ops/api: who may call it, what bad input gets, and the console's static files. */
describe(`ops admin API (${engineName})`, () => {
  const h = useApi({ opsAdminToken: TOKEN });
  let admin: TestUser;
  let moderator: TestUser;
  let user: TestUser;

  beforeAll(async () => {
    [admin, moderator, user] = await Promise.all([
      register(h, 'ops-admin'),
      register(h, 'ops-mod'),
      register(h, 'ops-user'),
    ]);
    await grantRole(h, admin.id, 'admin');
    await grantRole(h, moderator.id, 'moderator');
    await h.drain();
  }, 120_000);

  it('admins and the local admin token only', async () => {
    const none = await call(h, 'GET', '/ops/api/outbox');
    expect(none.status).toBe(401);
    expect(isErrorShape(none.body)).toBe(true);
    const forged = await call(h, 'GET', '/ops/api/outbox', {
      headers: { 'x-asora-admin-token': TOKEN.replace(/x$/, 'y') },
    });
    expect(forged.status).toBe(401);
    for (const u of [user, moderator]) {
      const r = await call(h, 'GET', '/ops/api/outbox', { token: u.token });
      expect(r.status).toBe(403);
      expect(r.body.error).toMatchObject({ code: 'forbidden', message: /admins only/ });
    }
    const ok = await call(h, 'GET', '/ops/api/outbox', { token: admin.token });
    expect(ok.status).toBe(200);
    expect(ok.body.status).toMatchObject({ pending: expect.any(Number), deadLettered: 0 });
    const byToken = await call(h, 'GET', '/ops/api/leases', {
      headers: { 'x-asora-admin-token': TOKEN },
    });
    expect(byToken.status).toBe(200);
    expect(byToken.body.runsProcessors).toBe(true);
    expect(byToken.body.processors.map((p: { container: string }) => p.container).sort()).toEqual([
      'posts_v2',
      'reactions',
    ]);
  });

  it('bad input is a 400 in the error shape and writes nothing', async () => {
    const before = await rowCounts(h);
    const cases: [string, unknown][] = [
      ['/ops/api/outbox/redrive', {}],
      ['/ops/api/outbox/redrive', { ids: ['12x'] }],
      ['/ops/api/outbox/redrive', { ids: [0] }],
      ['/ops/api/outbox/redrive', { deadLettered: true, bogus: 1 }],
      ['/ops/api/reconcile', { kinds: ['bogus'] }],
      ['/ops/api/reconcile', { sample: 0 }],
      ['/ops/api/feed/rebuild', { userId: 'not-a-uuid' }],
      ['/ops/api/feed/rebuild', { all: true, concurrency: 65 }],
      ['/ops/api/feed/rebuild', {}],
      ['/ops/api/users/grant-role', { email: user.email, role: 'root' }],
      ['/ops/api/users/grant-role', { email: '   ', role: 'admin' }],
      ['/ops/api/users/grant-role', { email: 'a\u0000@example.com', role: 'admin' }],
      ['/ops/api/users/grant-role', { email: user.email, role: 'admin', operator: 'x\u0000' }],
    ];
    for (const [path, body] of cases) {
      const r = await call(h, 'POST', path, { token: admin.token, body });
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(isErrorShape(r.body)).toBe(true);
    }
    const unknown = await call(h, 'POST', '/ops/api/users/grant-role', {
      token: admin.token,
      body: { email: 'nobody@example.com', role: 'admin' },
    });
    expect(unknown.status).toBe(404);
    expect(await rowCounts(h)).toEqual(before);
  });

  it('grant-role through the token is audited with the operator', async () => {
    const r = await call(h, 'POST', '/ops/api/users/grant-role', {
      headers: { 'x-asora-admin-token': TOKEN },
      body: { email: user.email.toUpperCase(), role: 'moderator', operator: 'os:alice' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ userId: user.id, previousRole: 'user', role: 'moderator' });
    const audit = await h.canon.db.query<{ details: { actor?: string } }>(
      `SELECT details FROM audit_log WHERE subject_id = $1 ORDER BY id DESC LIMIT 1`,
      [user.id],
    );
    expect(JSON.stringify(audit.rows[0])).toContain('admin-token os:alice');
  });

  it('reconcile is remembered for the console', async () => {
    const first = await call(h, 'GET', '/ops/api/reconcile', { token: admin.token });
    expect(first.body).toEqual({ last: null });
    const run = await call(h, 'POST', '/ops/api/reconcile', {
      token: admin.token,
      body: { kinds: ['profiles'] },
    });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ repaired: false, totalDrift: 0 });
    expect(run.body.report.profiles.checked).toBeGreaterThanOrEqual(3);
    const last = await call(h, 'GET', '/ops/api/reconcile', { token: admin.token });
    expect(last.body.last.at).toBe(run.body.at);
  }, 60_000);

  it('serves the console page and its assets from the package, nothing else', async () => {
    const page = await fetch(`${h.base}/ops`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('/ops/assets/uPlot.iife.min.js');
    const chart = await fetch(`${h.base}/ops/assets/uPlot.iife.min.js`);
    expect(chart.status).toBe(200);
    expect((await chart.text()).length).toBeGreaterThan(10_000);
    expect((await fetch(`${h.base}/ops/assets/..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${h.base}/ops/assets/nope.js`)).status).toBe(404);
  });
});
