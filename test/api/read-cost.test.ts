import { beforeAll, describe, expect, it, vi } from 'vitest';
import { replayOutbox } from '../../src/outbox/status.ts';
import { canonicalReactionCounts } from '../../src/readmodel/counters.ts';
import { CONTAINERS, type ReactionCounts } from '../../src/readmodel/documents.ts';
import { metricValue } from '../observability/metric-value.ts';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, register, type TestUser } from './harness.ts';

interface Item {
  id: string;
  authorId: string;
  counts: ReactionCounts;
}

describe(`read path cost and freshness (${engineName})`, () => {
  // A long-lived hydration cache: a warm read's posts come from memory, and every count
  // below must still be current (the pipeline's writes drop what they change).
  const h = useApi({ readCache: { ttlMs: 600_000, maxEntries: 1_000 } });
  let reader: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  const posts: string[] = [];

  const feed = async (u: TestUser = reader): Promise<Item[]> => {
    const r = await call(h, 'GET', '/v1/feed', { token: u.token });
    expect(r.status).toBe(200);
    return r.body.items;
  };
  const put = async (u: TestUser, path: string) =>
    expect((await call(h, 'PUT', path, { token: u.token })).status).toBe(204);
  const del = async (u: TestUser, path: string) =>
    expect((await call(h, 'DELETE', path, { token: u.token })).status).toBe(204);

  /** Mean SQL statements per request on a route since `before` (sum and count of the histogram). */
  async function statementsPerRequest(route: string, before: { sum: number; count: number }) {
    const labels = { method: 'GET', route };
    const sum = (await metricValue(h.metrics, 'asora_request_sql_statements_sum', labels)) ?? 0;
    const count = (await metricValue(h.metrics, 'asora_request_sql_statements_count', labels)) ?? 0;
    return { perRequest: (sum - before.sum) / (count - before.count), sum, count };
  }

  beforeAll(async () => {
    const [r, a, b] = await Promise.all(['reader', 'alice', 'bob'].map((n) => register(h, n)));
    [reader, alice, bob] = [r!, a!, b!];
    await put(reader, `/v1/users/${alice.id}/follow`);
    await put(reader, `/v1/users/${bob.id}/follow`);
    for (const u of [alice, bob, alice, bob]) {
      const res = await call(h, 'POST', '/v1/posts', { token: u.token, body: { text: 'hi' } });
      expect(res.status).toBe(201);
      posts.push(res.body.id);
    }
    // Reactions, some taken back, from several users.
    for (const [u, p, t] of [
      [reader, 0, 'like'],
      [reader, 1, 'heart'],
      [alice, 1, 'like'],
      [bob, 0, 'like'],
      [bob, 0, 'wow'],
      [reader, 3, 'laugh'],
    ] as const)
      await put(u, `/v1/posts/${posts[p]}/reactions/${t}`);
    await del(bob, `/v1/posts/${posts[0]}/reactions/wow`);
    await del(reader, `/v1/posts/${posts[3]}/reactions/laugh`);
    await h.drain();
  }, 300_000);

  it('a warm feed read is one userFeed query: no canonical, no counters, its posts from the read cache', async () => {
    // The clock stands still for these reads: on a loaded machine five reads can outlast the
    // read context's 5 s, and a refetch is not what this measures.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      await feed(); // the read context and the page's posts are fetched once, then cached
      const before = await statementsPerRequest('/v1/feed', { sum: 0, count: 0 });
      for (let i = 0; i < 5; i++) expect(await feed()).toHaveLength(4);
      const { perRequest } = await statementsPerRequest('/v1/feed', before);
      expect(perRequest).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  }, 120_000);

  it('counts on feed items equal canonical counts, and still do after a replay of every event', async () => {
    const check = async () => {
      const items = await feed();
      const truth = await canonicalReactionCounts(
        h.canon.db,
        items.map((i) => i.id),
      );
      for (const i of items) expect(i.counts).toEqual(truth.get(i.id));
      return items;
    };
    const items = await check();
    expect(items.find((i) => i.id === posts[0])?.counts).toMatchObject({ like: 2, wow: 0 });
    // Replay: every outbox event again, and the reaction documents derived again from them,
    // so the reactions change feed recomputes every count.
    const reactions = h.proj.store.container(CONTAINERS.reactions);
    for (const p of posts) {
      const page = await reactions.query({ partitionKey: p, limit: 100 });
      for (const d of page.items) await reactions.delete(d.id, p);
    }
    expect(await replayOutbox(h.canon.db)).toBeGreaterThan(10);
    await h.drain();
    await check();
  }, 120_000);

  it('a block or a mute hides the author from the very next feed read', async () => {
    expect((await feed()).some((i) => i.authorId === alice.id)).toBe(true); // context cached
    await put(reader, `/v1/users/${alice.id}/mute`);
    expect((await feed()).some((i) => i.authorId === alice.id)).toBe(false);
    await del(reader, `/v1/users/${alice.id}/mute`);
    await h.drain(); // the mute took alice's items out of the feed; unmuting backfills them
    expect((await feed()).some((i) => i.authorId === alice.id)).toBe(true);
    await put(reader, `/v1/users/${bob.id}/block`);
    expect((await feed()).some((i) => i.authorId === bob.id)).toBe(false);
  }, 120_000);

  it("the caller's own new post is in their feed at once (canonical merge), and from the pipeline after", async () => {
    const r = await call(h, 'POST', '/v1/posts', { token: reader.token, body: { text: 'mine' } });
    expect(r.status).toBe(201);
    expect((await feed())[0]?.id).toBe(r.body.id);
    await h.drain();
    const own = await h.proj.store.container(CONTAINERS.userFeed).query({
      partitionKey: reader.id,
      filters: [{ field: 'authorId', op: '=', value: reader.id }],
      limit: 10,
    });
    expect(own.items.map((d) => d.postId)).toContain(r.body.id);
  }, 120_000);
});
