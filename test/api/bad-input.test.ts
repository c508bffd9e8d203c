import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, grantRole, isErrorShape, register, rowCounts, type TestUser } from './harness.ts';

const UNKNOWN = '6f1c2a9e-1111-4222-8333-944455556666';
const long = (n: number) => 'x'.repeat(n);

/** A well-formed HS256 token signed with the wrong secret. */
function forgeToken(sub: string): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, iat: Math.floor(Date.now() / 1000) })}`;
  return `${head}.${createHmac('sha256', 'not-the-platform-secret').update(head).digest('base64url')}`;
}

interface Case {
  name: string;
  method: string;
  path: string | (() => string);
  as?: 'alice' | 'bob' | 'admin' | 'none';
  body?: unknown;
  raw?: string | Uint8Array;
  contentType?: string;
  status: number;
  /** The error code, where the status alone does not say it. */
  code?: string;
}

describe(`HTTP API v1 bad input: typed 4xx, documented shape, nothing written (${engineName})`, () => {
  const h = useApi();
  let alice: TestUser;
  let bob: TestUser;
  let admin: TestUser;
  let alicePost: string;
  let caseId: string;

  beforeAll(async () => {
    alice = await register(h, 'alice');
    bob = await register(h, 'bob');
    admin = await register(h, 'admin');
    await grantRole(h, admin.id, 'admin');
    const p = await call(h, 'POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'alice was here' },
    });
    alicePost = p.body.id;
    const c = await call(h, 'POST', '/v1/reports', {
      token: bob.token,
      body: { contentType: 'post', contentId: alicePost, reason: 'test' },
    });
    caseId = c.body.id;
    await h.drain();
  }, 300_000);

  const post = () => `/v1/posts/${alicePost}`;
  const cases: Case[] = [
    // auth
    {
      name: 'register: empty body',
      method: 'POST',
      path: '/v1/auth/register',
      as: 'none',
      body: {},
      status: 400,
    },
    {
      name: 'register: wrong types',
      method: 'POST',
      path: '/v1/auth/register',
      as: 'none',
      body: { email: 1, password: true, displayName: [] },
      status: 400,
    },
    {
      name: 'register: not an email',
      method: 'POST',
      path: '/v1/auth/register',
      as: 'none',
      body: { email: 'nope', password: 'long enough', displayName: 'x' },
      status: 400,
    },
    {
      name: 'register: short password',
      method: 'POST',
      path: '/v1/auth/register',
      as: 'none',
      body: { email: 'new@example.com', password: 'short', displayName: 'x' },
      status: 400,
    },
    {
      name: 'register: 51-char display name',
      method: 'POST',
      path: '/v1/auth/register',
      as: 'none',
      body: { email: 'new@example.com', password: 'long enough', displayName: long(51) },
      status: 400,
    },
    {
      name: 'register: malformed JSON',
      method: 'POST',
      path: '/v1/auth/register',
      as: 'none',
      raw: '{"email":',
      status: 400,
    },
    {
      // Bytes that are not UTF-8 would be decoded to U+FFFD and stored without a word.
      name: 'post: a body that is not UTF-8',
      method: 'POST',
      path: '/v1/posts',
      raw: Buffer.concat([Buffer.from('{"text":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]),
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'register: JSON null',
      method: 'POST',
      path: '/v1/auth/register',
      as: 'none',
      raw: 'null',
      status: 400,
    },
    {
      name: 'register: text/plain body',
      method: 'POST',
      path: '/v1/auth/register',
      as: 'none',
      raw: 'email=a',
      contentType: 'text/plain',
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'post: text/plain body',
      method: 'POST',
      path: '/v1/posts',
      raw: '{"text":"hi"}',
      contentType: 'text/plain; charset=utf-8',
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'register: form body',
      method: 'POST',
      path: '/v1/auth/register',
      as: 'none',
      raw: 'email=a',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'login: missing fields',
      method: 'POST',
      path: '/v1/auth/login',
      as: 'none',
      body: { email: 'a@b.co' },
      status: 400,
    },
    {
      name: 'login: wrong password',
      method: 'POST',
      path: '/v1/auth/login',
      as: 'none',
      body: { email: 'nobody@example.com', password: 'whatever1' },
      status: 401,
    },
    // profile
    {
      name: 'profile: empty display name',
      method: 'PATCH',
      path: '/v1/me/profile',
      body: { displayName: '' },
      status: 400,
    },
    {
      name: 'profile: 501-char bio',
      method: 'PATCH',
      path: '/v1/me/profile',
      body: { bio: long(501) },
      status: 400,
    },
    {
      name: 'profile: unknown privacy',
      method: 'PATCH',
      path: '/v1/me/profile',
      body: { privacyLevel: 'secret' },
      status: 400,
    },
    {
      name: 'profile: bad avatar url',
      method: 'PATCH',
      path: '/v1/me/profile',
      body: { avatarUrl: 'not a url' },
      status: 400,
    },
    {
      name: 'profile: unknown field',
      method: 'PATCH',
      path: '/v1/me/profile',
      body: { role: 'admin' },
      status: 400,
    },
    {
      name: 'profile: array body',
      method: 'PATCH',
      path: '/v1/me/profile',
      body: [1, 2],
      status: 400,
    },
    // users and relationships
    {
      name: 'profile of malformed id',
      method: 'GET',
      path: '/v1/users/not-a-uuid/profile',
      status: 400,
    },
    {
      name: 'profile of unknown user',
      method: 'GET',
      path: `/v1/users/${UNKNOWN}/profile`,
      status: 404,
    },
    ...(['follow', 'block', 'mute'] as const).flatMap((rel): Case[] => [
      {
        name: `${rel}: self`,
        method: 'PUT',
        path: () => `/v1/users/${alice.id}/${rel}`,
        status: 400,
      },
      { name: `${rel}: malformed id`, method: 'PUT', path: `/v1/users/123/${rel}`, status: 400 },
      {
        name: `${rel}: unknown user`,
        method: 'PUT',
        path: `/v1/users/${UNKNOWN}/${rel}`,
        status: 404,
      },
      {
        name: `un${rel}: malformed id`,
        method: 'DELETE',
        path: `/v1/users/zzz/${rel}`,
        status: 400,
      },
      {
        name: `un${rel}: self`,
        method: 'DELETE',
        path: () => `/v1/users/${alice.id}/${rel}`,
        status: 400,
      },
    ]),
    { name: 'followers: malformed id', method: 'GET', path: '/v1/users/1/followers', status: 400 },
    {
      name: 'followers: bad cursor',
      method: 'GET',
      path: () => `/v1/users/${bob.id}/followers?cursor=garbage`,
      status: 400,
    },
    {
      name: 'following: limit 0',
      method: 'GET',
      path: () => `/v1/users/${bob.id}/following?limit=0`,
      status: 400,
    },
    {
      name: 'following: limit abc',
      method: 'GET',
      path: () => `/v1/users/${bob.id}/following?limit=abc`,
      status: 400,
    },
    {
      name: 'user posts: unknown user',
      method: 'GET',
      path: `/v1/users/${UNKNOWN}/posts`,
      status: 404,
    },
    {
      name: 'user posts: limit 101',
      method: 'GET',
      path: () => `/v1/users/${bob.id}/posts?limit=101`,
      status: 400,
    },
    // posts
    { name: 'post: missing text', method: 'POST', path: '/v1/posts', body: {}, status: 400 },
    {
      name: 'post: empty text',
      method: 'POST',
      path: '/v1/posts',
      body: { text: '   ' },
      status: 400,
    },
    {
      name: 'post: oversize text',
      method: 'POST',
      path: '/v1/posts',
      body: { text: long(5001) },
      status: 400,
    },
    {
      name: 'post: text is a number',
      method: 'POST',
      path: '/v1/posts',
      body: { text: 5 },
      status: 400,
    },
    {
      name: 'post: tags not an array',
      method: 'POST',
      path: '/v1/posts',
      body: { text: 'ok', tags: 'a,b' },
      status: 400,
    },
    {
      name: 'post: 21 tags',
      method: 'POST',
      path: '/v1/posts',
      body: { text: 'ok', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) },
      status: 400,
    },
    {
      name: 'post: extra field',
      method: 'POST',
      path: '/v1/posts',
      body: { text: 'ok', authorId: UNKNOWN },
      status: 400,
    },
    { name: 'get post: malformed id', method: 'GET', path: '/v1/posts/abc', status: 400 },
    { name: 'get post: unknown', method: 'GET', path: `/v1/posts/${UNKNOWN}`, status: 404 },
    {
      name: "edit: another user's post",
      method: 'PATCH',
      path: post,
      as: 'bob',
      body: { text: 'mine now' },
      status: 403,
    },
    { name: 'edit: nothing to change', method: 'PATCH', path: post, body: {}, status: 400 },
    {
      name: 'edit: oversize',
      method: 'PATCH',
      path: post,
      body: { text: long(5001) },
      status: 400,
    },
    {
      name: 'edit: malformed id',
      method: 'PATCH',
      path: '/v1/posts/%20',
      body: { text: 'x' },
      status: 400,
    },
    {
      name: 'edit: unknown post',
      method: 'PATCH',
      path: `/v1/posts/${UNKNOWN}`,
      body: { text: 'x' },
      status: 404,
    },
    { name: "delete: another user's post", method: 'DELETE', path: post, as: 'bob', status: 403 },
    { name: 'delete: malformed id', method: 'DELETE', path: '/v1/posts/1234', status: 400 },
    // reactions
    {
      name: 'react: unknown type',
      method: 'PUT',
      path: () => `${post()}/reactions/explode`,
      status: 400,
    },
    {
      name: 'react: malformed post',
      method: 'PUT',
      path: '/v1/posts/xyz/reactions/like',
      status: 400,
    },
    {
      name: 'react: unknown post',
      method: 'PUT',
      path: `/v1/posts/${UNKNOWN}/reactions/like`,
      status: 404,
    },
    {
      name: 'unreact: unknown type',
      method: 'DELETE',
      path: () => `${post()}/reactions/LIKE`,
      status: 400,
    },
    {
      name: 'reactions: bad type filter',
      method: 'GET',
      path: () => `${post()}/reactions?type=boo`,
      status: 400,
    },
    // feed and notifications
    { name: 'feed: limit 0', method: 'GET', path: '/v1/feed?limit=0', status: 400 },
    { name: 'feed: garbage cursor', method: 'GET', path: '/v1/feed?cursor=%7B%7D', status: 400 },
    {
      name: 'feed: forged cursor',
      method: 'GET',
      path: `/v1/feed?cursor=${Buffer.from('{"t":"x","id":"y"}').toString('base64url')}`,
      status: 400,
    },
    {
      name: 'notifications: unread=maybe',
      method: 'GET',
      path: '/v1/notifications?unread=maybe',
      status: 400,
    },
    {
      name: 'notifications: garbage cursor',
      method: 'GET',
      path: '/v1/notifications?cursor=!!',
      status: 400,
    },
    {
      name: 'read: unknown notification',
      method: 'POST',
      path: '/v1/notifications/follow:nope/read',
      status: 404,
    },
    {
      name: 'read: malformed id',
      method: 'POST',
      path: '/v1/notifications/a%20b/read',
      status: 400,
    },
    // reports and appeals
    {
      name: 'report: unknown content type',
      method: 'POST',
      path: '/v1/reports',
      body: { contentType: 'comment', contentId: UNKNOWN, reason: 'x' },
      status: 400,
    },
    {
      name: 'report: malformed id',
      method: 'POST',
      path: '/v1/reports',
      body: { contentType: 'post', contentId: 'abc', reason: 'x' },
      status: 400,
    },
    {
      name: 'report: oversize reason',
      method: 'POST',
      path: '/v1/reports',
      body: { contentType: 'post', contentId: UNKNOWN, reason: long(1001) },
      status: 400,
    },
    {
      name: 'report: unknown post',
      method: 'POST',
      path: '/v1/reports',
      body: { contentType: 'post', contentId: UNKNOWN, reason: 'x' },
      status: 404,
    },
    {
      name: 'appeal: missing reason',
      method: 'POST',
      path: '/v1/appeals',
      body: { caseId: UNKNOWN },
      status: 400,
    },
    {
      name: 'appeal: unknown case',
      method: 'POST',
      path: '/v1/appeals',
      body: { caseId: UNKNOWN, reason: 'x' },
      status: 404,
    },
    // admin
    {
      name: 'admin cases as a user',
      method: 'GET',
      path: '/v1/admin/cases',
      as: 'bob',
      status: 403,
    },
    {
      name: 'decide case as a user',
      method: 'PATCH',
      path: () => `/v1/admin/cases/${caseId}`,
      as: 'alice',
      body: { decision: 'remove' },
      status: 403,
    },
    {
      name: 'decide appeal as a user',
      method: 'PATCH',
      path: `/v1/admin/appeals/${UNKNOWN}`,
      as: 'alice',
      body: { status: 'approved' },
      status: 403,
    },
    {
      name: 'search as a user',
      method: 'GET',
      path: '/v1/admin/posts/search?q=alice',
      as: 'bob',
      status: 403,
    },
    {
      name: 'decide case: bad decision',
      method: 'PATCH',
      path: () => `/v1/admin/cases/${caseId}`,
      as: 'admin',
      body: { decision: 'ban' },
      status: 400,
    },
    {
      name: 'decide case: malformed id',
      method: 'PATCH',
      path: '/v1/admin/cases/1',
      as: 'admin',
      body: { decision: 'keep' },
      status: 400,
    },
    {
      name: 'decide case: unknown',
      method: 'PATCH',
      path: `/v1/admin/cases/${UNKNOWN}`,
      as: 'admin',
      body: { decision: 'keep' },
      status: 404,
    },
    {
      name: 'decide appeal: unknown',
      method: 'PATCH',
      path: `/v1/admin/appeals/${UNKNOWN}`,
      as: 'admin',
      body: { status: 'approved' },
      status: 404,
    },
    {
      name: 'decide appeal: bad status',
      method: 'PATCH',
      path: `/v1/admin/appeals/${UNKNOWN}`,
      as: 'admin',
      body: { status: 'maybe' },
      status: 400,
    },
    {
      name: 'search: missing q',
      method: 'GET',
      path: '/v1/admin/posts/search',
      as: 'admin',
      status: 400,
    },
    {
      name: 'cases: bad status filter',
      method: 'GET',
      path: '/v1/admin/cases?status=closed',
      as: 'admin',
      status: 400,
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status}`, async () => {
      await h.drain(); // nothing in flight from earlier cases
      const before = await rowCounts(h);
      const token = { alice: alice.token, bob: bob.token, admin: admin.token, none: undefined }[
        c.as ?? 'alice'
      ];
      const path = typeof c.path === 'function' ? c.path() : c.path;
      const r = await call(h, c.method, path, {
        token,
        body: c.body,
        raw: c.raw,
        headers: c.raw !== undefined ? { 'content-type': c.contentType ?? 'application/json' } : {},
      });
      expect(r.status, JSON.stringify(r.body)).toBe(c.status);
      expect(isErrorShape(r.body), JSON.stringify(r.body)).toBe(true);
      if (c.code) expect(r.body.error.code).toBe(c.code);
      expect(await rowCounts(h)).toEqual(before);
    }, 120_000);
  }

  const authed: [string, string][] = [
    ['GET', '/v1/me'],
    ['PATCH', '/v1/me/profile'],
    ['GET', '/v1/me/export'],
    ['DELETE', '/v1/me'],
    ['GET', '/v1/me/appeals'],
    ['GET', `/v1/users/${UNKNOWN}/profile`],
    ['PUT', `/v1/users/${UNKNOWN}/follow`],
    ['DELETE', `/v1/users/${UNKNOWN}/block`],
    ['PUT', `/v1/users/${UNKNOWN}/mute`],
    ['GET', `/v1/users/${UNKNOWN}/followers`],
    ['GET', `/v1/users/${UNKNOWN}/following`],
    ['GET', `/v1/users/${UNKNOWN}/posts`],
    ['POST', '/v1/posts'],
    ['GET', `/v1/posts/${UNKNOWN}`],
    ['PATCH', `/v1/posts/${UNKNOWN}`],
    ['DELETE', `/v1/posts/${UNKNOWN}`],
    ['PUT', `/v1/posts/${UNKNOWN}/reactions/like`],
    ['DELETE', `/v1/posts/${UNKNOWN}/reactions/like`],
    ['GET', `/v1/posts/${UNKNOWN}/reactions`],
    ['GET', '/v1/feed'],
    ['GET', '/v1/notifications'],
    ['POST', '/v1/notifications/x/read'],
    ['POST', '/v1/notifications/read-all'],
    ['POST', '/v1/reports'],
    ['POST', '/v1/appeals'],
    ['GET', '/v1/admin/cases'],
    ['PATCH', `/v1/admin/cases/${UNKNOWN}`],
    ['PATCH', `/v1/admin/appeals/${UNKNOWN}`],
    ['GET', '/v1/admin/posts/search?q=x'],
  ];

  it('HTTP that Node cannot parse gets the error shape: 400 malformed, 431 oversized headers', async () => {
    // Raw bytes on a socket: fetch cannot send these.
    const send = (raw: string) =>
      new Promise<{ status: number; contentType?: string; body: unknown }>((resolve, reject) => {
        const { hostname, port } = new URL(h.base);
        const socket = connect(Number(port), hostname, () => socket.end(raw));
        let got = '';
        socket.on('data', (d) => {
          got += d.toString('utf8');
        });
        socket.on('error', reject);
        socket.on('close', () => {
          const [head = '', body = ''] = got.split('\r\n\r\n');
          resolve({
            status: Number(head.split(' ')[1]),
            contentType: /^content-type: *(.*)$/im.exec(head)?.[1],
            body: JSON.parse(body),
          });
        });
      });
    const cases: [string, string, number, string][] = [
      ['a request line that is not HTTP', 'HELLO\r\n\r\n', 400, 'bad_request'],
      [
        'a header line without a colon',
        'GET /v1/feed HTTP/1.1\r\nHost: x\r\nbad\r\n\r\n',
        400,
        'bad_request',
      ],
      [
        'headers over the limit',
        `GET /v1/feed HTTP/1.1\r\nHost: x\r\nX-Big: ${long(20_000)}\r\n\r\n`,
        431,
        'headers_too_large',
      ],
    ];
    for (const [what, raw, status, code] of cases) {
      const r = await send(raw);
      expect(r.status, what).toBe(status);
      expect(r.contentType, what).toMatch(/^application\/json/);
      expect(isErrorShape(r.body), `${what}: ${JSON.stringify(r.body)}`).toBe(true);
      expect((r.body as { error: { code: string } }).error.code, what).toBe(code);
    }
  });

  it('every authenticated route answers 401 without a token, with a garbage token and with a forged one', async () => {
    const forged = forgeToken(alice.id);
    const before = await rowCounts(h);
    for (const [method, path] of authed) {
      for (const token of [undefined, 'garbage', forged]) {
        const r = await call(h, method, path, {
          token,
          body: method === 'GET' ? undefined : { text: 'x' },
        });
        expect(r.status, `${method} ${path} token=${token?.slice(0, 8)}`).toBe(401);
        expect(isErrorShape(r.body)).toBe(true);
      }
    }
    expect(await rowCounts(h)).toEqual(before);
  }, 120_000);
});
