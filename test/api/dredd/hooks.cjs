// Dredd hooks (CommonJS: Dredd loads hook files with require). Dredd builds each request
// from the OpenAPI examples; these hooks make them meaningful on a live server: real ids
// in place of the example ids, a bearer token per caller, and the few resources a
// transaction needs created first.
const hooks = require('hooks');

const API = process.env.DREDD_API;
const ADMIN_TOKEN = process.env.DREDD_ADMIN_TOKEN;
const EXAMPLE_POST = '0190b5a8-4a4e-7c1e-9b51-3d2f8f0e4c11';
const EXAMPLE_CASE = '0190b5a8-6e7f-7d20-a1b2-c3d4e5f60718';
const state = {};

async function call(method, path, token, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${API}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const user = async (name) => {
  const email = `${name}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  const r = await call('POST', '/v1/auth/register', undefined, {
    email,
    password: 'correct horse',
    displayName: name,
  });
  return { id: r.user.id, token: r.accessToken };
};

hooks.beforeAll((_transactions, done) => {
  (async () => {
    // alice (the example register/login email) is registered by the first transaction.
    state.bob = await user('bob');
    state.carol = await user('carol');
    state.doomed = await user('doomed');
    state.post = (await call('POST', '/v1/posts', state.bob.token, { text: 'for dredd' })).id;
    state.deletable = (await call('POST', '/v1/posts', state.bob.token, { text: 'to delete' })).id;
    // A removed post of bob's with a decided case, for the appeal transaction.
    const removed = (await call('POST', '/v1/posts', state.bob.token, { text: 'moderated' })).id;
    const report = { contentType: 'post', contentId: removed, reason: 'spam' };
    state.removedCase = (await call('POST', '/v1/reports', state.carol.token, report)).id;
    await call('PATCH', `/v1/admin/cases/${state.removedCase}`, ADMIN_TOKEN, {
      decision: 'remove',
    });
    // A notification for bob (carol follows him), delivered by the pipeline.
    await call('PUT', `/v1/users/${state.bob.id}/follow`, state.carol.token);
    for (let i = 0; i < 120 && !state.notification; i++) {
      const list = await call('GET', '/v1/notifications', state.bob.token);
      state.notification = list.items[0]?.id;
      if (!state.notification) await new Promise((r) => setTimeout(r, 250));
    }
    if (!state.notification) throw new Error('no notification was delivered');
  })().then(
    () => done(),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
});

hooks.beforeEach((transaction) => {
  // Error responses are covered by the Ajv check on every test reply; Dredd runs the 2xx.
  if (!/^2/.test(transaction.expected.statusCode)) {
    transaction.skip = true;
    return;
  }
  const req = transaction.request;
  const path = transaction.fullPath;
  // The documented example key is one value; each operation gets its own (a key names one request).
  for (const name of Object.keys(req.headers))
    if (name.toLowerCase() === 'idempotency-key')
      req.headers[name] = require('node:crypto').randomUUID();
  let token = state.bob.token;
  if (path.startsWith('/v1/admin/')) token = ADMIN_TOKEN;
  if (path.startsWith('/v1/auth/')) token = undefined;
  if (transaction.name.includes('Delete own account')) token = state.doomed.token;
  if (path.startsWith('/v1/reports')) token = state.carol.token;
  if (token) req.headers.Authorization = `Bearer ${token}`;
  // Example ids → real ones: the user in a path is carol (bob acts), posts are bob's.
  const deleting = transaction.name.includes('Delete a post');
  let p = path
    .replace(/^\/v1\/users\/[^/]+/, `/v1/users/${state.carol.id}`)
    .replace(/^\/v1\/posts\/[^/?]+/, `/v1/posts/${deleting ? state.deletable : state.post}`)
    .replace(/^\/v1\/notifications\/[^/]+\/read/, () => {
      return `/v1/notifications/${encodeURIComponent(state.notification)}/read`;
    })
    .replace(/^\/v1\/admin\/cases\/[^/]+/, () => `/v1/admin/cases/${state.openCase}`)
    .replace(/^\/v1\/admin\/appeals\/[^/]+/, () => `/v1/admin/appeals/${state.appeal}`);
  // Cursors are issued by the server: the example cursor is dropped from queries.
  p = p.replace(/[?&]cursor=[^&]*/, (m) => (m.startsWith('?') ? '?' : '')).replace('?&', '?');
  transaction.fullPath = p;
  transaction.request.uri = p;
  if (req.body) {
    const body = JSON.parse(req.body);
    if (body.contentId === EXAMPLE_POST) body.contentId = state.post;
    if (body.caseId === EXAMPLE_CASE) body.caseId = state.removedCase;
    if (path.startsWith('/v1/posts/') && 'version' in body) delete body.version;
    req.body = JSON.stringify(body);
  }
});

hooks.after(
  '/v1/reports > Report a post or a profile (opens a moderation case) > 201 > application/json',
  (t) => {
    state.openCase = JSON.parse(t.real.body).id;
  },
);
hooks.after('/v1/appeals > Appeal a moderation decision > 201 > application/json', (t) => {
  state.appeal = JSON.parse(t.real.body).id;
});

// Gavel compares Content-Type to the documented media type as an exact string; the
// server adds `; charset=utf-8`, which the media type `application/json` allows.
hooks.beforeEachValidation((transaction) => {
  const type = transaction.real.headers['content-type'];
  if (type) transaction.real.headers['content-type'] = type.split(';')[0].trim();
});
