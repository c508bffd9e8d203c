import { beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERS, type FeedItemDoc } from '../../src/readmodel/documents.ts';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, register, type TestUser } from './harness.ts';

interface Item {
  id: string;
  authorId: string;
  createdAt: string;
}

describe(`GET /v1/feed: merge, read-time filters, refill and keyset paging (${engineName})`, () => {
  const h = useApi({ fanoutFollowerThreshold: 2 });
  let reader: TestUser;
  let bob: TestUser;
  let muted: TestUser;
  let celeb: TestUser;
  const expected: string[] = [];

  async function postAs(u: TestUser, text: string) {
    const r = await call(h, 'POST', '/v1/posts', { token: u.token, body: { text } });
    expect(r.status).toBe(201);
    return r.body.id as string;
  }

  async function readAll(limit: number): Promise<Item[]> {
    const all: Item[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const q: string = cursor
        ? `?limit=${limit}&cursor=${encodeURIComponent(cursor)}`
        : `?limit=${limit}`;
      const r = await call(h, 'GET', `/v1/feed${q}`, { token: reader.token });
      expect(r.status).toBe(200);
      // Never short while more items exist.
      if (r.body.cursor) expect(r.body.items).toHaveLength(limit);
      all.push(...r.body.items);
      cursor = r.body.cursor;
      if (!cursor) break;
    }
    return all;
  }

  beforeAll(async () => {
    // Threshold 2: an author with 3 followers is not fanned out but merged at read time.
    const [r, b, m, c] = await Promise.all(
      ['reader', 'bob', 'muted', 'celeb'].map((n) => register(h, n)),
    );
    [reader, bob, muted, celeb] = [r!, b!, m!, c!];
    const fans = await Promise.all(['fan1', 'fan2'].map((n) => register(h, n)));
    for (const u of [reader, ...fans]) {
      expect(
        (await call(h, 'PUT', `/v1/users/${celeb.id}/follow`, { token: u.token })).status,
      ).toBe(204);
    }
    for (const u of [bob, muted]) {
      expect(
        (await call(h, 'PUT', `/v1/users/${u.id}/follow`, { token: reader.token })).status,
      ).toBe(204);
    }
    for (let i = 0; i < 4; i++) {
      expected.push(await postAs(bob, `bob ${i}`));
      expected.push(await postAs(celeb, `celeb ${i}`));
      await postAs(muted, `muted ${i}`);
    }
    // Muted author's posts are newest: the first page must refill past them.
    for (let i = 0; i < 5; i++) await postAs(muted, `muted late ${i}`);
    expected.push(await postAs(reader, 'my own post'));
    await h.drain();
    expect(
      (await call(h, 'PUT', `/v1/users/${muted.id}/mute`, { token: reader.token })).status,
    ).toBe(204);
    expected.reverse();
  }, 300_000);

  it('fans out only below the threshold; the celebrity is merged in at read time', async () => {
    const { items } = await h.proj.store
      .container(CONTAINERS.userFeed)
      .query<FeedItemDoc>({ partitionKey: reader.id, limit: 100 });
    const authors = new Set(items.map((d) => d.authorId));
    expect(authors.has(bob.id)).toBe(true);
    expect(authors.has(celeb.id)).toBe(false);
    const r = await call(h, 'GET', '/v1/feed', { token: reader.token });
    expect(r.body.items.map((p: Item) => p.id)).toEqual(expected);
  }, 120_000);

  it('pages by keyset with full pages, newest first, without gaps or repeats', async () => {
    for (const limit of [1, 2, 4]) {
      const all = await readAll(limit);
      expect(all.map((p) => p.id)).toEqual(expected);
      const times = all.map((p) => p.createdAt);
      expect([...times].sort().reverse()).toEqual(times);
    }
  }, 120_000);

  it('hides blocked authors at once and deleted posts after the pipeline ran', async () => {
    expect(
      (await call(h, 'PUT', `/v1/users/${bob.id}/block`, { token: reader.token })).status,
    ).toBe(204);
    const afterBlock = await readAll(3);
    expect(afterBlock.some((p) => p.authorId === bob.id)).toBe(false);
    const celebPost = expected.find((id) =>
      afterBlock.some((p) => p.id === id && p.authorId === celeb.id),
    )!;
    expect((await call(h, 'DELETE', `/v1/posts/${celebPost}`, { token: celeb.token })).status).toBe(
      204,
    );
    const afterDelete = await readAll(3);
    expect(afterDelete.map((p) => p.id)).not.toContain(celebPost);
    expect(afterDelete).toHaveLength(afterBlock.length - 1);
  }, 120_000);
});
