import { beforeAll, describe, expect, it } from 'vitest';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, register, type TestUser } from './harness.ts';

interface Listed {
  id?: string;
  userId?: string;
  createdAt?: string;
}

describe(`GET /v1/discover/posts and /v1/discover/users (${engineName})`, () => {
  const h = useApi();
  let viewer: TestUser;
  let emile: TestUser;
  let emily: TestUser;
  let hidden: TestUser; // followers-only profile
  let secret: TestUser; // private profile
  let blocked: TestUser; // the viewer blocks them
  let blocker: TestUser; // blocks the viewer
  let muted: TestUser;
  let other: TestUser; // "Zoë", not matching "emi"
  /** Visible posts, newest first. */
  const visible: string[] = [];
  const cafe: string[] = [];
  let untagged: string;

  async function postAs(u: TestUser, text: string, tags?: string[]) {
    const r = await call(h, 'POST', '/v1/posts', { token: u.token, body: { text, tags } });
    expect(r.status).toBe(201);
    return r.body.id as string;
  }

  async function profile(u: TestUser, body: Record<string, unknown>) {
    expect((await call(h, 'PATCH', '/v1/me/profile', { token: u.token, body })).status).toBe(200);
  }

  async function readAll(path: string, limit: number): Promise<Listed[]> {
    const all: Listed[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const q = `${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await call(h, 'GET', `${path}${q}`, { token: viewer.token });
      expect(r.status).toBe(200);
      if (r.body.cursor) expect(r.body.items).toHaveLength(limit); // short only at the end
      all.push(...r.body.items);
      cursor = r.body.cursor;
      if (!cursor) return all;
    }
    throw new Error('paging did not end');
  }

  beforeAll(async () => {
    const users = await Promise.all(
      ['viewer', 'emile', 'emily', 'hidden', 'secret', 'blocked', 'blocker', 'muted', 'other'].map(
        (n) => register(h, n),
      ),
    );
    [viewer, emile, emily, hidden, secret, blocked, blocker, muted, other] = users as [
      TestUser,
      TestUser,
      TestUser,
      TestUser,
      TestUser,
      TestUser,
      TestUser,
      TestUser,
      TestUser,
    ];
    await profile(emile, { displayName: 'Émile Zola' });
    await profile(emily, { displayName: 'EMILY Dickinson' });
    await profile(hidden, { displayName: 'Emil Followers', privacyLevel: 'followers' });
    await profile(secret, { displayName: 'Emil Private', privacyLevel: 'private' });
    await profile(blocked, { displayName: 'Emil Blocked' });
    await profile(blocker, { displayName: 'Emil Blocker' });
    await profile(muted, { displayName: 'Emil Muted' });
    await profile(other, { displayName: 'Zoë' });
    expect(
      (await call(h, 'PUT', `/v1/users/${blocked.id}/block`, { token: viewer.token })).status,
    ).toBe(204);
    expect(
      (await call(h, 'PUT', `/v1/users/${viewer.id}/block`, { token: blocker.token })).status,
    ).toBe(204);
    expect(
      (await call(h, 'PUT', `/v1/users/${muted.id}/mute`, { token: viewer.token })).status,
    ).toBe(204);

    for (let i = 0; i < 4; i++) {
      const a = await postAs(emile, `emile ${i}`, i % 2 === 0 ? ['Café', 'books'] : ['books']);
      visible.push(a);
      if (i % 2 === 0) cafe.push(a);
      for (const u of [blocked, blocker, muted]) await postAs(u, `hidden ${i}`, ['cafe']);
      const b = await postAs(emily, `emily ${i}`, i === 3 ? ['CAFÉ'] : undefined);
      visible.push(b);
      if (i === 3) cafe.push(b);
    }
    visible.push(await postAs(viewer, 'my own post', ['cafe']));
    cafe.push(visible.at(-1)!);
    untagged = await postAs(other, 'tagged, then not', ['cafe']);
    visible.push(untagged);
    const gone = await postAs(other, 'deleted', ['cafe']);
    expect((await call(h, 'DELETE', `/v1/posts/${gone}`, { token: other.token })).status).toBe(204);
    // An edit that drops the tag: the post stays in discovery, but no longer under the tag.
    expect(
      (await call(h, 'PATCH', `/v1/posts/${untagged}`, { token: other.token, body: { tags: [] } }))
        .status,
    ).toBe(200);
    await h.drain();
    visible.reverse();
    cafe.reverse();
  }, 300_000);

  it('lists published posts newest first, every one once across pages, without hidden authors', {
    timeout: 120_000,
  }, async () => {
    for (const limit of [1, 3, 50]) {
      const all = await readAll('/v1/discover/posts', limit);
      expect(all.map((p) => p.id)).toEqual(visible);
      const times = all.map((p) => p.createdAt!);
      expect([...times].sort().reverse()).toEqual(times);
    }
  });

  it('filters by one tag, case- and accent-insensitively, reading the post as it is now', {
    timeout: 120_000,
  }, async () => {
    for (const tag of ['cafe', 'CAFÉ', 'Café']) {
      for (const limit of [2, 50]) {
        const all = await readAll(`/v1/discover/posts?tag=${encodeURIComponent(tag)}`, limit);
        expect(all.map((p) => p.id)).toEqual(cafe);
      }
    }
    expect((await readAll('/v1/discover/posts?tag=nothing', 10)).length).toBe(0);
    // The edited post is gone from the tag but keeps its place in the unfiltered list.
    expect(cafe).not.toContain(untagged);
  });

  it('finds public profiles by display-name prefix, case- and accent-insensitive', {
    timeout: 120_000,
  }, async () => {
    for (const q of ['emi', 'EMI', 'Émi', 'ÉMI', 'eMí']) {
      const all = await readAll(`/v1/discover/users?q=${encodeURIComponent(q)}`, 50);
      expect(all.map((p) => p.userId)).toEqual([emile.id, emily.id]);
    }
    const one = await readAll('/v1/discover/users?q=emily%20d', 50);
    expect(one.map((p) => p.userId)).toEqual([emily.id]);
    expect(await readAll('/v1/discover/users?q=zoe', 50)).toEqual([
      expect.objectContaining({ userId: other.id, displayName: 'Zoë' }),
    ]);
    expect(await readAll('/v1/discover/users?q=emilz', 50)).toEqual([]);
  });

  it('pages through all public profiles by name, each once, without hidden or non-public ones', {
    timeout: 120_000,
  }, async () => {
    const everyone = await readAll('/v1/discover/users', 50);
    const ids = everyone.map((p) => p.userId);
    for (const u of [hidden, secret, blocked, blocker, muted]) expect(ids).not.toContain(u.id);
    for (const u of [viewer, emile, emily, other]) expect(ids).toContain(u.id);
    for (const limit of [1, 2]) {
      expect((await readAll('/v1/discover/users', limit)).map((p) => p.userId)).toEqual(ids);
    }
  });

  it('shows a profile again once it is public and no longer muted', {
    timeout: 120_000,
  }, async () => {
    await profile(hidden, { privacyLevel: 'public' });
    expect(
      (await call(h, 'DELETE', `/v1/users/${muted.id}/mute`, { token: viewer.token })).status,
    ).toBe(204);
    await h.drain();
    // A trailing space is part of the prefix: "Emil " is not "Émile".
    const all = await readAll('/v1/discover/users?q=emil%20', 50);
    expect(all.map((p) => p.userId)).toEqual([hidden.id, muted.id]);
  });

  it('answers bad input with 400 in the error shape', { timeout: 120_000 }, async () => {
    for (const path of [
      '/v1/discover/posts?cursor=nope',
      '/v1/discover/posts?limit=0',
      `/v1/discover/posts?tag=${'x'.repeat(51)}`,
      '/v1/discover/users?cursor=nope',
      `/v1/discover/users?q=${'x'.repeat(51)}`,
      '/v1/discover/users?q=a%00b',
      '/v1/discover/users?limit=101',
    ]) {
      const r = await call(h, 'GET', path, { token: viewer.token });
      expect(r.status, path).toBe(400);
      expect(r.body.error.code, path).toBe('invalid_input');
    }
    expect((await call(h, 'GET', '/v1/discover/posts')).status).toBe(401);
  });
});
