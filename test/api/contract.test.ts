import { beforeAll, describe, expect, it } from 'vitest';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, grantRole, isErrorShape, register, type TestUser } from './harness.ts';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const zero = { like: 0, heart: 0, laugh: 0, wow: 0, sad: 0, angry: 0 };

describe(`HTTP API v1 walk-through (${engineName})`, () => {
  const h = useApi();
  let alice: TestUser;
  let bob: TestUser;
  let postId: string;

  beforeAll(async () => {
    alice = await register(h, 'alice');
    bob = await register(h, 'bob');
  }, 300_000);

  it('registers with a 409 for the same email in any letter case, and logs in', async () => {
    const dup = await call(h, 'POST', '/v1/auth/register', {
      body: {
        email: alice.email.toUpperCase(),
        password: 'another password',
        displayName: 'Imposter',
      },
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('auth_email_taken');
    const login = await call(h, 'POST', '/v1/auth/login', {
      body: { email: alice.email.toUpperCase(), password: 'correct horse battery' },
    });
    expect(login.status).toBe(200);
    expect(login.body.user).toEqual({ id: alice.id, email: alice.email });
    expect(typeof login.body.accessToken).toBe('string');
    const wrong = await call(h, 'POST', '/v1/auth/login', {
      body: { email: alice.email, password: 'wrong password' },
    });
    expect(wrong.status).toBe(401);
    expect(isErrorShape(wrong.body)).toBe(true);
    // The password is stored as a scrypt hash with its parameters, never in clear.
    const { rows } = await h.canon.db.query<{ password_hash: string }>(
      'SELECT password_hash FROM users WHERE id = $1',
      [alice.id],
    );
    expect(rows[0]!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
  }, 120_000);

  it('GET /v1/me and PATCH /v1/me/profile', async () => {
    const me = await call(h, 'GET', '/v1/me', { token: alice.token });
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ id: alice.id, email: alice.email, role: 'user' });
    expect(me.body.user.createdAt).toMatch(ISO);
    expect(me.body.profile).toMatchObject({
      userId: alice.id,
      displayName: 'alice',
      bio: null,
      privacyLevel: 'public',
    });
    const patched = await call(h, 'PATCH', '/v1/me/profile', {
      token: alice.token,
      body: { bio: 'I post things', displayName: 'Alice A.' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      userId: alice.id,
      displayName: 'Alice A.',
      bio: 'I post things',
    });
    // Read-after-write on the public profile (publicProfiles written directly, then by the relay).
    const pub = await call(h, 'GET', `/v1/users/${alice.id}/profile`, { token: bob.token });
    expect(pub.body).toMatchObject({ displayName: 'Alice A.', bio: 'I post things' });
  }, 120_000);

  it('follows (idempotent), posts, reacts, and the follower sees it in the feed', async () => {
    for (let i = 0; i < 2; i++) {
      expect(
        (await call(h, 'PUT', `/v1/users/${alice.id}/follow`, { token: bob.token })).status,
      ).toBe(204);
    }
    const { rows } = await h.canon.db.query('SELECT 1 FROM follows WHERE follower_id = $1', [
      bob.id,
    ]);
    expect(rows).toHaveLength(1);

    const created = await call(h, 'POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'hello world', tags: ['intro'] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      authorId: alice.id,
      text: 'hello world',
      tags: ['intro'],
      status: 'published',
    });
    expect(created.body.counts).toEqual(zero);
    expect(created.body.createdAt).toMatch(ISO);
    postId = created.body.id;
    // Read-after-write before the pipeline ran: posts_v2 was written directly.
    const read = await call(h, 'GET', `/v1/posts/${postId}`, { token: bob.token });
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(postId);
    // ... and the author's own feed has it at once.
    const ownFeed = await call(h, 'GET', '/v1/feed', { token: alice.token });
    expect(ownFeed.body.items.map((p: { id: string }) => p.id)).toContain(postId);

    for (let i = 0; i < 2; i++) {
      expect(
        (await call(h, 'PUT', `/v1/posts/${postId}/reactions/like`, { token: bob.token })).status,
      ).toBe(204);
    }
    expect(
      (await call(h, 'PUT', `/v1/posts/${postId}/reactions/heart`, { token: alice.token })).status,
    ).toBe(204);
    const r = await h.canon.db.query('SELECT 1 FROM reactions WHERE post_id = $1', [postId]);
    expect(r.rows).toHaveLength(2);

    await h.drain();
    const feed = await call(h, 'GET', '/v1/feed', { token: bob.token });
    expect(feed.status).toBe(200);
    expect(feed.body.cursor).toBeNull();
    expect(feed.body.items).toHaveLength(1);
    expect(feed.body.items[0]).toMatchObject({
      id: postId,
      authorId: alice.id,
      text: 'hello world',
    });
    expect(feed.body.items[0].counts).toEqual({ ...zero, like: 1, heart: 1 });

    const reactions = await call(h, 'GET', `/v1/posts/${postId}/reactions?type=like`, {
      token: alice.token,
    });
    expect(reactions.status).toBe(200);
    expect(reactions.body.items).toEqual([
      { userId: bob.id, type: 'like', createdAt: expect.stringMatching(ISO) },
    ]);
  }, 120_000);

  it('counters, follower lists and notifications', async () => {
    const profile = await call(h, 'GET', `/v1/users/${alice.id}/profile`, { token: bob.token });
    expect(profile.body.counts).toEqual({ followers: 1, following: 0, posts: 1 });
    const followers = await call(h, 'GET', `/v1/users/${alice.id}/followers`, { token: bob.token });
    expect(followers.body.items).toEqual([
      { userId: bob.id, displayName: 'bob', followedAt: expect.stringMatching(ISO) },
    ]);
    const following = await call(h, 'GET', `/v1/users/${bob.id}/following`, { token: alice.token });
    expect(following.body.items.map((f: { userId: string }) => f.userId)).toEqual([alice.id]);
    const authored = await call(h, 'GET', `/v1/users/${alice.id}/posts`, { token: bob.token });
    expect(authored.body.items.map((p: { id: string }) => p.id)).toEqual([postId]);

    const notes = await call(h, 'GET', '/v1/notifications', { token: alice.token });
    expect(notes.status).toBe(200);
    const types = notes.body.items.map((n: { type: string }) => n.type).sort();
    expect(types).toEqual(['follow', 'reaction']);
    for (const n of notes.body.items) {
      expect(n).toMatchObject({
        actorId: bob.id,
        read: false,
        createdAt: expect.stringMatching(ISO),
      });
    }
    const first = notes.body.items[0];
    expect(
      (await call(h, 'POST', `/v1/notifications/${first.id}/read`, { token: alice.token })).status,
    ).toBe(204);
    const unread = await call(h, 'GET', '/v1/notifications?unread=true', { token: alice.token });
    expect(unread.body.items).toHaveLength(1);
    // Someone else's notification is not found in the caller's partition.
    expect(
      (await call(h, 'POST', `/v1/notifications/${first.id}/read`, { token: bob.token })).status,
    ).toBe(404);
    expect(
      (await call(h, 'POST', '/v1/notifications/read-all', { token: alice.token })).status,
    ).toBe(204);
    const none = await call(h, 'GET', '/v1/notifications?unread=true', { token: alice.token });
    expect(none.body).toEqual({ items: [], cursor: null });
  }, 120_000);

  it('edits (author only, optimistic version) and deletes a post', async () => {
    const other = await call(h, 'PATCH', `/v1/posts/${postId}`, {
      token: bob.token,
      body: { text: 'hijacked' },
    });
    expect(other.status).toBe(403);
    const stale = await call(h, 'PATCH', `/v1/posts/${postId}`, {
      token: alice.token,
      body: { text: 'x', version: 99 },
    });
    expect(stale.status).toBe(409);
    const edited = await call(h, 'PATCH', `/v1/posts/${postId}`, {
      token: alice.token,
      body: { text: 'hello again', version: 1 },
    });
    expect(edited.status).toBe(200);
    expect(edited.body.text).toBe('hello again');
    await h.drain();
    const feed = await call(h, 'GET', '/v1/feed', { token: bob.token });
    expect(feed.body.items[0].text).toBe('hello again');

    const second = await call(h, 'POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'to be deleted' },
    });
    expect(
      (await call(h, 'DELETE', `/v1/posts/${second.body.id}`, { token: bob.token })).status,
    ).toBe(403);
    expect(
      (await call(h, 'DELETE', `/v1/posts/${second.body.id}`, { token: alice.token })).status,
    ).toBe(204);
    expect((await call(h, 'GET', `/v1/posts/${second.body.id}`, { token: bob.token })).status).toBe(
      404,
    );
    await h.drain();
    const after = await call(h, 'GET', '/v1/feed', { token: bob.token });
    expect(after.body.items.map((p: { id: string }) => p.id)).toEqual([postId]);
  }, 120_000);

  it('a block removes follows both ways and hides the author from the feed', async () => {
    expect(
      (await call(h, 'PUT', `/v1/users/${bob.id}/follow`, { token: alice.token })).status,
    ).toBe(204);
    expect((await call(h, 'PUT', `/v1/users/${alice.id}/block`, { token: bob.token })).status).toBe(
      204,
    );
    const { rows } = await h.canon.db.query(
      'SELECT 1 FROM follows WHERE follower_id = ANY($1::uuid[])',
      [[alice.id, bob.id]],
    );
    expect(rows).toHaveLength(0);
    // Read-time filtering: hidden at once, before the pipeline retracts the feed items.
    const feed = await call(h, 'GET', '/v1/feed', { token: bob.token });
    expect(feed.body.items).toEqual([]);
    expect(
      (await call(h, 'PUT', `/v1/users/${bob.id}/follow`, { token: alice.token })).status,
    ).toBe(403);
    await h.drain();
    const profile = await call(h, 'GET', `/v1/users/${alice.id}/profile`, { token: bob.token });
    expect(profile.body.counts.followers).toBe(0);
    expect(
      (await call(h, 'DELETE', `/v1/users/${alice.id}/block`, { token: bob.token })).status,
    ).toBe(204);
    expect(
      (await call(h, 'DELETE', `/v1/users/${alice.id}/block`, { token: bob.token })).status,
    ).toBe(204);
  }, 120_000);

  it('reports, admin decisions, appeals and admin search', async () => {
    const target = await call(h, 'POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'questionable content' },
    });
    const rep = await call(h, 'POST', '/v1/reports', {
      token: bob.token,
      body: { contentType: 'post', contentId: target.body.id, reason: 'spam' },
    });
    expect(rep.status).toBe(201);
    expect(rep.body).toMatchObject({
      reporterId: bob.id,
      status: 'open',
      decision: null,
      contentId: target.body.id,
    });
    expect((await call(h, 'GET', '/v1/admin/cases', { token: bob.token })).status).toBe(403);

    const mod = await register(h, 'mod');
    await grantRole(h, mod.id, 'moderator');
    const cases = await call(h, 'GET', '/v1/admin/cases?status=open', { token: mod.token });
    expect(cases.status).toBe(200);
    expect(cases.body.items.map((c: { id: string }) => c.id)).toContain(rep.body.id);
    const decided = await call(h, 'PATCH', `/v1/admin/cases/${rep.body.id}`, {
      token: mod.token,
      body: { decision: 'remove' },
    });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({
      status: 'actioned',
      decision: 'remove',
      decidedBy: mod.id,
    });
    expect((await call(h, 'GET', `/v1/posts/${target.body.id}`, { token: bob.token })).status).toBe(
      404,
    );
    const own = await call(h, 'GET', `/v1/posts/${target.body.id}`, { token: alice.token });
    expect(own.body.status).toBe('removed');

    // Only the author of the moderated post may appeal it; the reporter may not.
    const notMine = await call(h, 'POST', '/v1/appeals', {
      token: bob.token,
      body: { caseId: rep.body.id, reason: 'on her behalf' },
    });
    expect(notMine.status).toBe(403);
    expect(notMine.body.error.code).toBe('forbidden');
    expect((await call(h, 'GET', '/v1/me/appeals', { token: bob.token })).body.items).toEqual([]);

    const ap = await call(h, 'POST', '/v1/appeals', {
      token: alice.token,
      body: { caseId: rep.body.id, reason: 'satire' },
    });
    expect(ap.status).toBe(201);
    expect(
      (
        await call(h, 'POST', '/v1/appeals', {
          token: alice.token,
          body: { caseId: rep.body.id, reason: 'again' },
        })
      ).status,
    ).toBe(409);
    const mine = await call(h, 'GET', '/v1/me/appeals', { token: alice.token });
    expect(mine.body.items.map((a: { id: string }) => a.id)).toEqual([ap.body.id]);
    const approved = await call(h, 'PATCH', `/v1/admin/appeals/${ap.body.id}`, {
      token: mod.token,
      body: { status: 'approved' },
    });
    expect(approved.status).toBe(200);
    expect(
      (await call(h, 'GET', `/v1/posts/${target.body.id}`, { token: bob.token })).body.status,
    ).toBe('published');

    await h.drain();
    const found = await call(h, 'GET', '/v1/admin/posts/search?q=questionable', {
      token: mod.token,
    });
    expect(found.status).toBe(200);
    expect(found.body.items.map((p: { id: string }) => p.id)).toEqual([target.body.id]);
    expect(
      (await call(h, 'GET', '/v1/admin/posts/search?q=questionable', { token: bob.token })).status,
    ).toBe(403);
  }, 120_000);

  it('exports everything about the caller, then deletes the account', async () => {
    const exp = await call(h, 'GET', '/v1/me/export', { token: alice.token });
    expect(exp.status).toBe(200);
    expect(exp.body.user).toMatchObject({ id: alice.id, email: alice.email });
    expect(exp.body.profile).toMatchObject({ userId: alice.id, displayName: 'Alice A.' });
    expect(exp.body.posts.length).toBe(3);
    expect(exp.body.reactions).toHaveLength(1);
    expect(exp.body.appeals).toHaveLength(1);

    expect((await call(h, 'DELETE', '/v1/me', { token: alice.token })).status).toBe(204);
    const { rows } = await h.canon.db.query<{ email: string; deleted_at: Date | null }>(
      'SELECT email, deleted_at FROM users WHERE id = $1',
      [alice.id],
    );
    expect(rows[0]!.deleted_at).not.toBeNull();
    expect(rows[0]!.email).not.toBe(alice.email);
    const live = await h.canon.db.query(
      `SELECT (SELECT count(*) FROM posts WHERE author_id = $1 AND status = 'published')::int AS posts,
              (SELECT count(*) FROM reactions WHERE user_id = $1)::int AS reactions,
              (SELECT count(*) FROM auth_identities WHERE user_id = $1)::int AS identities,
              (SELECT count(*) FROM profiles WHERE user_id = $1)::int AS profiles`,
      [alice.id],
    );
    expect(live.rows[0]).toEqual({ posts: 0, reactions: 0, identities: 0, profiles: 0 });
    const user = await h.canon.db.query(
      `SELECT 1 FROM outbox WHERE event_type = 'user.deleted' AND aggregate_id = $1`,
      [alice.id],
    );
    expect(user.rows).toHaveLength(1);
    // The token no longer works; the email can register again.
    expect((await call(h, 'GET', '/v1/me', { token: alice.token })).status).toBe(401);
    expect(
      (
        await call(h, 'POST', '/v1/auth/register', {
          body: {
            email: alice.email,
            password: 'correct horse battery',
            displayName: 'Alice again',
          },
        })
      ).status,
    ).toBe(201);
    await h.drain();
    const feed = await call(h, 'GET', '/v1/feed', { token: bob.token });
    expect(feed.body.items).toEqual([]);
  }, 120_000);

  it('serves OpenAPI, docs and 404s in the error shape', async () => {
    const doc = await call(h, 'GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/feed', '/v1/posts/{postId}/reactions/{type}']),
    );
    expect((await call(h, 'GET', '/docs')).status).toBeLessThan(400);
    const nf = await call(h, 'GET', '/v1/nothing-here');
    expect(nf.status).toBe(404);
    expect(isErrorShape(nf.body)).toBe(true);
  }, 120_000);
});
