import { beforeAll, describe, expect, it } from 'vitest';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, register, rowCounts, type TestUser } from './harness.ts';

/** Input hygiene at the schema layer: each of these is a 400 that writes nothing. */
describe(`input hygiene and signed cursors (${engineName})`, () => {
  const h = useApi();
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let postA: string;
  let postB: string;

  beforeAll(async () => {
    [alice, bob, carol] = [
      await register(h, 'hy-alice'),
      await register(h, 'hy-bob'),
      await register(h, 'hy-carol'),
    ];
    for (const text of ['one', 'two']) {
      const r = await call(h, 'POST', '/v1/posts', { token: alice.token, body: { text } });
      postA = r.body.id;
    }
    for (const text of ['three', 'four']) {
      const r = await call(h, 'POST', '/v1/posts', { token: bob.token, body: { text } });
      postB = r.body.id;
    }
    for (const u of [bob, carol]) {
      await call(h, 'PUT', `/v1/users/${alice.id}/follow`, { token: u.token });
      await call(h, 'PUT', `/v1/users/${bob.id}/follow`, {
        token: u === bob ? alice.token : u.token,
      });
      await call(h, 'PUT', `/v1/posts/${postA}/reactions/like`, { token: u.token });
      await call(h, 'PUT', `/v1/posts/${postB}/reactions/like`, {
        token: u === bob ? alice.token : u.token,
      });
    }
    await h.drain();
  }, 180_000);

  const rejected: [string, string, string, unknown][] = [
    ['NUL in post text', 'POST', '/v1/posts', { text: 'a\u0000b' }],
    ['NUL in a tag', 'POST', '/v1/posts', { text: 'ok', tags: ['a\u0000'] }],
    ['lone surrogate in post text', 'POST', '/v1/posts', { text: 'x\ud800y' }],
    ['lone low surrogate in a tag', 'POST', '/v1/posts', { text: 'ok', tags: ['\udc00'] }],
    ['zero-width tag', 'POST', '/v1/posts', { text: 'ok', tags: ['\u200b'] }],
    ['NUL in display name', 'PATCH', '/v1/me/profile', { displayName: 'a\u0000' }],
    ['NUL in bio', 'PATCH', '/v1/me/profile', { bio: 'bio\u0000' }],
    ['lone surrogate in bio', 'PATCH', '/v1/me/profile', { bio: '\udfff' }],
    ['zero-width-space display name', 'PATCH', '/v1/me/profile', { displayName: '\u200b' }],
    ['RTL override in display name', 'PATCH', '/v1/me/profile', { displayName: 'admin\u202Egnp' }],
    ['bidi isolate in display name', 'PATCH', '/v1/me/profile', { displayName: '\u2067x\u2069' }],
    ['Hangul filler display name', 'PATCH', '/v1/me/profile', { displayName: '\u3164' }],
    ['control character in display name', 'PATCH', '/v1/me/profile', { displayName: 'a\u0007b' }],
    ['javascript: avatar', 'PATCH', '/v1/me/profile', { avatarUrl: 'javascript:alert(1)' }],
    ['data: avatar', 'PATCH', '/v1/me/profile', { avatarUrl: 'data:text/html,<script>' }],
    ['ftp: avatar', 'PATCH', '/v1/me/profile', { avatarUrl: 'ftp://example.com/a.png' }],
    [
      'NUL in report reason',
      'POST',
      '/v1/reports',
      { contentType: 'post', contentId: '00000000-0000-4000-8000-000000000000', reason: 'x\u0000' },
    ],
    [
      'NUL in register password',
      'POST',
      '/v1/auth/register',
      { email: 'n@example.com', password: 'password\u0000', displayName: 'N' },
    ],
    [
      'NUL in register email',
      'POST',
      '/v1/auth/register',
      { email: 'n\u0000@example.com', password: 'password1', displayName: 'N' },
    ],
  ];
  for (const [name, method, path, body] of rejected) {
    it(`${name} → 400, nothing written`, async () => {
      const before = await rowCounts(h);
      const r = await call(h, method, path, { token: alice.token, body });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('invalid_input');
      expect(await rowCounts(h)).toEqual(before);
    });
  }

  it('accepts ordinary Unicode: accents, emoji with joiners, https avatars', async () => {
    const r = await call(h, 'PATCH', '/v1/me/profile', {
      token: alice.token,
      body: { displayName: 'Zoë 👩‍💻', avatarUrl: 'https://example.com/a.png' },
    });
    expect(r.status).toBe(200);
    expect(r.body.displayName).toBe('Zoë 👩‍💻');
  });

  /** First page with limit=1, so there is a cursor. */
  const firstCursor = async (path: string, token: string) => {
    const r = await call(h, 'GET', `${path}${path.includes('?') ? '&' : '?'}limit=1`, { token });
    expect(r.status).toBe(200);
    expect(typeof r.body.cursor).toBe('string');
    return r.body.cursor as string;
  };

  it('a cursor works for its own list and caller, and nowhere else (400, not 500)', async () => {
    const lists = {
      notifications: ['/v1/notifications', alice.token],
      userPosts: [`/v1/users/${alice.id}/posts`, carol.token],
      reactions: [`/v1/posts/${postA}/reactions`, carol.token],
    } as const;
    const cursors = Object.fromEntries(
      await Promise.all(
        Object.entries(lists).map(async ([k, [path, token]]) => [
          k,
          await firstCursor(path, token),
        ]),
      ),
    ) as Record<keyof typeof lists, string>;
    // Its own list: the next page.
    for (const [k, [path, token]] of Object.entries(lists)) {
      const next = await call(
        h,
        'GET',
        `${path}?limit=1&cursor=${encodeURIComponent(cursors[k as keyof typeof lists])}`,
        { token },
      );
      expect(next.status, k).toBe(200);
    }
    const expect400 = async (path: string, token: string, cursor: string, what: string) => {
      const r = await call(
        h,
        'GET',
        `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`,
        { token },
      );
      expect(r.status, what).toBe(400);
      expect(r.body.error.code, what).toBe('invalid_input');
    };
    // Another user's cursor.
    await expect400(
      '/v1/notifications',
      bob.token,
      cursors.notifications,
      'notifications of another user',
    );
    await expect400(
      `/v1/users/${alice.id}/posts`,
      bob.token,
      cursors.userPosts,
      'user posts cursor of another caller',
    );
    await expect400(
      `/v1/posts/${postA}/reactions`,
      bob.token,
      cursors.reactions,
      'reactions cursor of another caller',
    );
    // Another list's cursor.
    await expect400(
      `/v1/users/${bob.id}/posts`,
      carol.token,
      cursors.userPosts,
      'user posts of another author',
    );
    await expect400(
      `/v1/posts/${postB}/reactions`,
      carol.token,
      cursors.reactions,
      'reactions of another post',
    );
    await expect400(
      '/v1/notifications',
      alice.token,
      cursors.userPosts,
      'a posts cursor on notifications',
    );
    // The same list with another filter: its continuation belongs to another query.
    await expect400(
      '/v1/notifications?unread=true',
      alice.token,
      cursors.notifications,
      'notifications cursor with unread=true',
    );
    await expect400(
      `/v1/posts/${postA}/reactions?type=like`,
      carol.token,
      cursors.reactions,
      'reactions cursor with a type filter',
    );
    // Forged or altered.
    const forged = Buffer.from(JSON.stringify({ c: '{"junk":true}' })).toString('base64url');
    for (const c of [
      forged,
      `${forged}.AAAAAAAAAAAAAAAAAAAAAA`,
      `${cursors.notifications}x`,
      '.',
      'x.',
    ]) {
      await expect400('/v1/notifications', alice.token, c, `forged ${c}`);
      await expect400(`/v1/users/${alice.id}/posts`, carol.token, c, `forged ${c}`);
      await expect400(`/v1/posts/${postA}/reactions`, carol.token, c, `forged ${c}`);
    }
  });

  it('a cursor issued for an upper-case id in the path pages that list, in either case', async () => {
    const upper = `/v1/users/${alice.id.toUpperCase()}/posts`;
    const cursor = encodeURIComponent(await firstCursor(upper, carol.token));
    for (const path of [upper, `/v1/users/${alice.id}/posts`]) {
      const next = await call(h, 'GET', `${path}?limit=1&cursor=${cursor}`, { token: carol.token });
      expect(next.status, path).toBe(200);
      expect(next.body.items).toHaveLength(1);
    }
  });

  it('an upper-case UUID names the same user or post (UUIDs are case-insensitive)', async () => {
    const dave = await register(h, 'hy-dave');
    const upper = (id: string) => id.toUpperCase();
    for (const rel of ['follow', 'mute', 'block'] as const) {
      const self = await call(h, 'PUT', `/v1/users/${upper(dave.id)}/${rel}`, {
        token: dave.token,
      });
      expect(self.status, `self-${rel}`).toBe(400);
      for (const method of ['PUT', 'DELETE']) {
        const r = await call(h, method, `/v1/users/${upper(carol.id)}/${rel}`, {
          token: dave.token,
        });
        expect(r.status, `${method} ${rel}: ${JSON.stringify(r.body)}`).toBe(204);
      }
    }
    for (const method of ['PUT', 'DELETE']) {
      const r = await call(h, method, `/v1/posts/${upper(postA)}/reactions/like`, {
        token: dave.token,
      });
      expect(r.status, `${method} reaction: ${JSON.stringify(r.body)}`).toBe(204);
    }
    const follow = await call(h, 'PUT', `/v1/users/${upper(carol.id)}/follow`, {
      token: dave.token,
    });
    expect(follow.status).toBe(204);
    await h.drain();
    const followers = await call(h, 'GET', `/v1/users/${upper(carol.id)}/followers`, {
      token: dave.token,
    });
    expect(followers.body.items.map((f: { userId: string }) => f.userId)).toContain(dave.id);
  });
});
