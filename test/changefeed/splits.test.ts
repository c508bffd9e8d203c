import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeaseDoc } from '../../src/changefeed/lease.ts';
import { listLeases } from '../../src/changefeed/lease-store.ts';
import { createChangeFeedProcessor } from '../../src/changefeed/processor.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { createPipelineWorkers, PROCESSOR_NAMES } from '../../src/pipeline/workers.ts';
import { createEmbeddedStore } from '../../src/projections/embedded/store.ts';
import type { ProjectionStore, Stored } from '../../src/projections/port.ts';
import { containerDefs } from '../../src/readmodel/containers.ts';
import type { NotificationDoc } from '../../src/readmodel/documents.ts';
import { Canon } from '../support/canon.ts';
import { canonicalDb, engineName, type ScratchDb } from '../support/databases.ts';
import { pipelineContext } from '../support/pipeline.ts';
import { embeddedStore, emptyStore, type TestStore } from '../support/projections.ts';
import { resetStores } from '../support/use-stores.ts';
import { FAST, sleep, waitFor } from './helpers.ts';

/** Changes handled so far by every processor, from the asora_changefeed_delay_seconds histogram. */
async function handledCount(metrics: Metrics): Promise<number> {
  const { values } = await metrics.changeFeedDelay.get();
  return values
    .filter((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))
    .reduce((s, v) => s + v.value, 0);
}

async function notifications(store: ProjectionStore): Promise<Stored<NotificationDoc>[]> {
  return (await store.container('notifications').query<NotificationDoc>({ limit: 1000 })).items;
}

describe(`feed-range splits and merges (${engineName})`, () => {
  let canon: ScratchDb;
  let proj: TestStore;

  beforeAll(async () => {
    canon = await canonicalDb();
    proj = await embeddedStore({ feedRanges: 2 });
  }, 240_000);
  afterAll(async () => {
    await proj?.close();
    await canon?.close();
  });

  it('restarting with FEED_RANGES 2 → 4 → 1 re-handles (almost) no history; processing continues; read notifications stay read', async () => {
    await resetStores(canon, proj);
    const db = canon.db;
    const users = await Promise.all(
      ['ann', 'ben', 'cat', 'dan', 'eve', 'fay'].map((n) => new Canon(db).user(n)),
    );
    for (const a of users) for (const b of users) if (a !== b) await new Canon(db).follow(a, b);

    /** One life of the workers on a store with `ranges` feed ranges; returns what it handled. */
    async function life(ranges: number, work: () => Promise<void>) {
      const store = await createEmbeddedStore(proj.db, {
        feedRanges: ranges,
        recutFeedRanges: true, // a start of the workers
        definitions: containerDefs,
      });
      const ctx = pipelineContext(db, store);
      const workers = createPipelineWorkers(ctx, {
        hostName: `split-${ranges}`,
        relay: { pollIntervalMs: 20, baseBackoffSeconds: 1 },
        processor: FAST,
      });
      await workers.start();
      await workers.drain({ timeoutMs: 60_000 });
      const rehandled = await handledCount(ctx.metrics);
      await work();
      await workers.drain({ timeoutMs: 60_000 });
      const total = await handledCount(ctx.metrics);
      const leases = await listLeases(
        store.container('leases'),
        PROCESSOR_NAMES.reactions,
        'reactions',
      );
      await workers.stop();
      await store.close();
      return { rehandled, total, leases: leases.map((l) => l.rangeId).sort(), store };
    }

    const posts: string[] = [];
    async function workload(n: number) {
      for (let i = 0; i < n; i++) {
        const author = users[i % users.length] as string;
        const post = await new Canon(db).post(author, `post ${posts.length}`);
        posts.push(post.id);
        for (const u of users.slice(0, 3))
          if (u !== author) await new Canon(db).react(u, post.id, 'like');
      }
    }

    const first = await life(2, () => workload(24));
    const history = first.total;
    expect(history).toBeGreaterThanOrEqual(24 + 24 * 2);
    expect(first.leases).toEqual(['0-of-2', '1-of-2']);
    // The authors read every notification.
    const notes = proj.store.container('notifications');
    const before = await notifications(proj.store);
    expect(before.length).toBeGreaterThan(40);
    for (const n of before)
      await notes.patch(n.id, n.recipientId, [{ op: 'set', path: '/read', value: true }]);

    const split = await life(4, () => workload(3));
    expect(split.rehandled).toBeLessThanOrEqual(Math.floor(history * 0.1));
    expect(split.total - split.rehandled).toBeGreaterThanOrEqual(3 + 3 * 2); // the new posts and reactions
    expect(split.leases).toEqual(['0-of-4', '1-of-4', '2-of-4', '3-of-4']);

    const merged = await life(1, () => workload(3));
    expect(merged.rehandled).toBeLessThanOrEqual(Math.floor(history * 0.1));
    expect(merged.total - merged.rehandled).toBeGreaterThanOrEqual(3 + 3 * 2);
    // Merged: the four leases keep reading their part of the one range.
    expect(merged.leases).toEqual(['0-of-4', '1-of-4', '2-of-4', '3-of-4']);

    const key = (n: NotificationDoc) => `${n.recipientId}/${n.id}`;
    console.log(
      `FEED_RANGES 2 → 4 → 1: history ${history} changes; re-handled after 2 → 4: ${split.rehandled}, after 4 → 1: ${merged.rehandled}`,
    );
    const after = new Map((await notifications(proj.store)).map((n) => [key(n), n]));
    for (const n of before) expect(after.get(key(n))?.read).toBe(true);
    expect(after.size).toBe(before.length + 12); // the 6 new posts' reactions, all delivered
  }, 180_000);

  it('a live split survives every opener but a start of the processors, which re-cuts to FEED_RANGES', async () => {
    const open = (recutFeedRanges?: boolean) =>
      createEmbeddedStore(proj.db, { feedRanges: 2, recutFeedRanges, definitions: containerDefs });
    const ids = async () => (await proj.store.container('posts_v2').feedRanges()).map((r) => r.id);
    await (await open(true)).close();
    await proj.store.splitFeedRange('posts_v2', '0-of-2');
    expect(await ids()).toEqual(['0-of-4', '1-of-4', '1-of-2']);
    await (await open()).close(); // a runbook, or serve
    expect(await ids()).toEqual(['0-of-4', '1-of-4', '1-of-2']);
    await (await open(true)).close(); // start / work with FEED_RANGES=2
    expect(await ids()).toEqual(['0-of-2', '1-of-2']);
  });

  it('a live split and a live merge under a running workload lose and duplicate nothing', async () => {
    await emptyStore(proj);
    await (
      await createEmbeddedStore(proj.db, {
        feedRanges: 2,
        recutFeedRanges: true,
        definitions: containerDefs,
      })
    ).close(); // the layout the first test re-shaped
    const store = proj.store;
    const handled = new Map<string, number>();
    const metrics = new Metrics();
    const p = createChangeFeedProcessor({
      store,
      container: 'posts_v2',
      processorName: 'live-split',
      hostName: 'host-a',
      options: FAST,
      startFrom: 'beginning',
      log: process.env.DEBUG_SPLIT ? createLogger('debug') : silentLogger,
      metrics,
      handle: async (items) => {
        for (const i of items)
          handled.set(`${i.id}:${i.n}`, (handled.get(`${i.id}:${i.n}`) ?? 0) + 1);
      },
    });
    await p.start();
    let stop = false;
    let written = 0;
    const c = store.container('posts_v2');
    const writer = (async () => {
      while (!stop) {
        const id = `live-${written}`;
        await c.upsert({ id, postId: id, n: written });
        written++;
        if (written % 10 === 0) await sleep(5);
      }
    })();
    await waitFor(() => written > 60, 30_000, 'a running workload');
    const [ranges] = [await c.feedRanges()];
    const children = await proj.store.splitFeedRange('posts_v2', (ranges[0] as { id: string }).id);
    const atSplit = written;
    await waitFor(() => written > atSplit + 60, 30_000, 'more workload after the split');
    await waitFor(
      async () =>
        (await listLeases(store.container('leases'), 'live-split', 'posts_v2')).length === 3,
      30_000,
      'the split lease handed to its children',
    );
    await proj.store.mergeFeedRanges('posts_v2', children[0]!.id, children[1]!.id);
    const atMerge = written;
    await waitFor(() => written > atMerge + 60, 30_000, 'more workload after the merge');
    stop = true;
    await writer;
    await waitFor(() => handled.size === written, 30_000, 'every change handled');
    await p.stop();
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    const leases: LeaseDoc[] = await listLeases(
      store.container('leases'),
      'live-split',
      'posts_v2',
    );
    expect(leases.map((l) => l.rangeId).sort()).toEqual(['0-of-4', '1-of-4', '1-of-2'].sort());
    const { values } = await metrics.changeFeedLeaseEvents.get();
    expect(values.find((v) => v.labels.event === 'split')?.value).toBe(1);
  }, 150_000);
});
