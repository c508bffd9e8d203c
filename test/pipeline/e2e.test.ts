import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChangeFeedProcessor } from '../../src/changefeed/processor.ts';
import type { PostSnapshot } from '../../src/events/catalogue.ts';
import { createPostFanoutHandler } from '../../src/pipeline/changes/posts-fanout.ts';
import type { PipelineContext } from '../../src/pipeline/context.ts';
import {
  createPipelineWorkers,
  type PipelineWorkers,
  PROCESSOR_NAMES,
} from '../../src/pipeline/workers.ts';
import { canonicalCount } from '../../src/readmodel/counters.ts';
import {
  type CounterDoc,
  counterId,
  type FeedItemDoc,
  type NotificationDoc,
  type PostDoc,
} from '../../src/readmodel/documents.ts';
import { eventually, FAST, waitFor } from '../changefeed/helpers.ts';
import { Canon } from '../support/canon.ts';
import { engineName } from '../support/databases.ts';
import { dump, feedOf, pipelineContext } from '../support/pipeline.ts';
import { resetStores, useCanonicalDb, useEmbeddedStore } from '../support/use-stores.ts';

const RELAY = { pollIntervalMs: 20, baseBackoffSeconds: 1 };

describe(`pipeline end to end on the embedded store (${engineName})`, () => {
  const canonical = useCanonicalDb();
  const proj = useEmbeddedStore();
  let canon: Canon;
  let ctx: PipelineContext;
  let workers: PipelineWorkers | undefined;

  beforeAll(() => {
    canon = new Canon(canonical.db);
  });
  afterAll(async () => {
    await workers?.stop();
  });

  async function freshWorld() {
    await workers?.stop();
    workers = undefined;
    await resetStores(canon, proj);
    ctx = pipelineContext(canon.db, proj.store);
  }

  function startWorkers(hostName: string) {
    const w = createPipelineWorkers(ctx, { hostName, relay: RELAY, processor: FAST });
    return w;
  }

  /** alice posts; bob, carol follow her; dave blocks her, erin mutes her, she blocks frank; gina follows nobody. */
  async function socialGraph() {
    const [alice, bob, carol, dave, erin, frank, gina] = await Promise.all(
      ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina'].map((n) => canon.user(n)),
    );
    const u = {
      alice: alice!,
      bob: bob!,
      carol: carol!,
      dave: dave!,
      erin: erin!,
      frank: frank!,
      gina: gina!,
    };
    for (const f of [u.bob, u.carol, u.dave, u.erin, u.frank]) await canon.follow(f, u.alice);
    await canon.follow(u.alice, u.bob);
    await canon.block(u.dave, u.alice);
    await canon.mute(u.erin, u.alice);
    await canon.block(u.alice, u.frank);
    return u;
  }

  it('follows, a post and reactions reach feeds, counters and notifications', async () => {
    await freshWorld();
    const u = await socialGraph();
    const db = canon.db;
    workers = startWorkers('e2e-a');
    await workers.start();
    const post = await canon.post(u.alice, 'hello followers');
    await canon.react(u.bob, post.id, 'like');
    await canon.react(u.carol, post.id, 'like');
    await canon.react(u.alice, post.id, 'like'); // self-reaction: counted, not notified
    await canon.react(u.carol, post.id, 'heart');
    await workers.drain();

    await eventually(async () => {
      for (const who of [u.alice, u.bob, u.carol])
        expect(await feedOf(proj.store, who)).toContain(post.id);
      for (const who of [u.dave, u.erin, u.frank, u.gina])
        expect(await feedOf(proj.store, who)).not.toContain(post.id);

      const counters = proj.store.container('counters');
      const likes = (await counters.read<CounterDoc>(counterId(post.id, 'likes'), post.id))
        .resource;
      expect(likes?.value).toBe(3);
      expect(likes?.value).toBe(await canonicalCount(db, post.id, 'likes'));
      const hearts = (await counters.read<CounterDoc>(counterId(post.id, 'hearts'), post.id))
        .resource;
      expect(hearts?.value).toBe(1);

      const notes = await proj.store.container('notifications').query<NotificationDoc>({
        partitionKey: u.alice,
        filters: [{ field: 'type', op: '=', value: 'reaction' }],
        limit: 100,
      });
      expect(notes.items.map((n) => `${n.actorId}:${n.subjectId}`).sort()).toEqual(
        [`${u.bob}:${post.id}`, `${u.carol}:${post.id}`, `${u.carol}:${post.id}`].sort(),
      );
      expect(notes.items.every((n) => n.read === false && n.recipientId === u.alice)).toBe(true);
    });
    const counters = proj.store.container('counters');
    // A removed reaction: the counter follows canonical, the unread notification goes.
    await canon.unreact(u.bob, post.id, 'like');
    // An edit reaches every feed copy; a deletion takes the post out of every feed.
    await canon.editPost(post.id, 'hello, edited');
    await workers.drain();

    await eventually(async () => {
      expect(
        (await counters.read<CounterDoc>(counterId(post.id, 'likes'), post.id)).resource?.value,
      ).toBe(2);
      const after = await proj.store
        .container('notifications')
        .query<NotificationDoc>({ partitionKey: u.alice, limit: 100 });
      expect(after.items.filter((n) => n.type === 'reaction' && n.actorId === u.bob)).toHaveLength(
        0,
      );
      const bobItem = (
        await proj.store.container('userFeed').read<FeedItemDoc>(`${u.bob}:${post.id}`, u.bob)
      ).resource;
      expect(bobItem).toMatchObject({ text: 'hello, edited', sourceVersion: 2 });
    });
    await canon.deletePost(post.id);
    await workers.drain();

    await eventually(async () => {
      for (const who of Object.values(u))
        expect(await feedOf(proj.store, who)).not.toContain(post.id);
    });
  });

  it('two worker processes share the leases; a post created, edited and deleted at once ends deleted everywhere', async () => {
    await freshWorld();
    const u = await socialGraph();
    const w1 = startWorkers('multi-1');
    const w2 = startWorkers('multi-2');
    workers = w1;
    try {
      await Promise.all([w1.start(), w2.start()]);
      await waitFor(
        () =>
          w1.processors.fanout.ownedLeases().length === 2 &&
          w2.processors.fanout.ownedLeases().length === 2,
        10_000,
        'a 2/2 split of the fan-out leases',
      );
      const keep = await canon.post(u.alice, 'stays');
      const gone = await canon.post(u.alice, 'short-lived');
      await Promise.all([
        canon.editPost(gone.id, 'edited at once').then(() => canon.deletePost(gone.id)),
        canon.react(u.bob, keep.id, 'like'),
        canon.react(u.carol, keep.id, 'like'),
        canon.react(u.gina, keep.id, 'like'),
      ]);
      await w1.drain();
      await w2.drain();
      await eventually(async () => {
        const stored = (await proj.store.container('posts_v2').read<PostDoc>(gone.id, gone.id))
          .resource;
        expect(stored).toMatchObject({ status: 'deleted', deleted: true, sourceVersion: 3 });
        for (const who of Object.values(u))
          expect(await feedOf(proj.store, who)).not.toContain(gone.id);
        for (const who of [u.alice, u.bob, u.carol])
          expect(await feedOf(proj.store, who)).toContain(keep.id);
        const likes = (
          await proj.store
            .container('counters')
            .read<CounterDoc>(counterId(keep.id, 'likes'), keep.id)
        ).resource;
        expect(likes?.value).toBe(3);
      });
    } finally {
      await w2.stop();
    }
  });

  it('replay: with every checkpoint reset and the outbox re-run, no projection changes', async () => {
    await freshWorld();
    const u = await socialGraph();
    const db = canon.db;
    const p1 = await canon.post(u.alice, 'first');
    const p2 = await canon.post(u.bob, 'second');
    const p3 = await canon.post(u.alice, 'third, soon deleted');
    await canon.react(u.bob, p1.id, 'like');
    await canon.react(u.carol, p1.id, 'laugh');
    await canon.react(u.alice, p2.id, 'wow');
    await canon.react(u.carol, p2.id, 'wow');
    await canon.unreact(u.carol, p2.id, 'wow');
    await canon.deletePost(p3.id);
    workers = startWorkers('replay-1');
    await workers.start();
    await workers.drain();

    const snap = async () => ({
      feed: await dump(proj.store, 'userFeed'),
      counters: await dump(proj.store, 'counters', ['updatedAt']),
      notifications: await dump(proj.store, 'notifications'),
      posts: await dump(proj.store, 'posts_v2'),
    });
    await eventually(async () => {
      for (const who of [u.alice, u.bob]) {
        expect(await feedOf(proj.store, who)).toEqual(expect.arrayContaining([p1.id, p2.id]));
      }
      expect(await feedOf(proj.store, u.carol)).toContain(p1.id); // carol follows alice, not bob
      expect(await feedOf(proj.store, u.alice)).not.toContain(p3.id);
      const counters = await dump(proj.store, 'counters');
      expect(counters.map((c) => c.id)).toEqual(
        expect.arrayContaining([counterId(p1.id, 'likes'), counterId(p2.id, 'wows')]),
      );
      const notes = await dump(proj.store, 'notifications');
      // bob→p1 and carol→p1 (to alice), alice→p2 (to bob); carol's removed wow took its note back
      expect(notes.filter((n) => n.type === 'reaction')).toHaveLength(3);
    });
    const before = await snap();
    await workers.stop();

    // Reset every checkpoint (delete the leases) and mark the whole outbox unprocessed.
    const leases = await dump(proj.store, 'leases');
    expect(leases.length).toBeGreaterThan(0);
    for (const l of leases) await proj.store.container('leases').delete(l.id, l.id);
    const reset = await db.query(
      'UPDATE outbox SET processed_at = NULL, retry_count = 0, next_retry_at = now(), claimed_by = NULL, lease_until = NULL',
    );
    expect(reset.rowCount).toBeGreaterThan(10);

    workers = startWorkers('replay-2');
    await workers.start();
    await workers.drain();
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL',
    );
    expect(rows[0]!.n).toBe(0);
    // The change feed really was read again from the beginning.
    const delay = await ctx.metrics.registry.getSingleMetricAsString(
      'asora_changefeed_delay_seconds',
    );
    expect(delay).toMatch(new RegExp(`handler="${PROCESSOR_NAMES.fanout}"`));
    await eventually(async () => expect(await snap()).toEqual(before));
  });

  it('a fan-out worker killed between handling and checkpoint loses and doubles nothing after restart', async () => {
    await freshWorld();
    ctx = { ...ctx, feedCap: 800 };
    const u = await socialGraph();
    workers = startWorkers('before-crash');
    await workers.start();
    await workers.drain();
    await workers.stop();
    workers = undefined;

    const posts: PostSnapshot[] = [];
    for (let i = 0; i < 6; i++) posts.push(await canon.post(u.alice, `post ${i}`));
    // Apply the outbox (posts_v2 written) with the relay alone, then a fan-out host that dies mid-way.
    const relayOnly = createPipelineWorkers(ctx, {
      hostName: 'relay-only',
      relay: RELAY,
      processor: FAST,
    });
    while ((await relayOnly.relay.runOnce()) > 0) {}
    const fanout = createPostFanoutHandler(ctx);
    let batches = 0;
    const victim = createChangeFeedProcessor({
      store: proj.store,
      container: 'posts_v2',
      processorName: PROCESSOR_NAMES.fanout,
      hostName: 'victim',
      options: FAST,
      log: ctx.log,
      handle: async (items) => {
        await fanout(items);
        if (++batches === 1) victim.halt(); // killed after applying, before acknowledging
      },
    });
    await victim.start();
    await waitFor(() => batches >= 1, 5_000, 'the first fan-out batch');

    workers = startWorkers('after-crash');
    await workers.start();
    await workers.drain({ timeoutMs: 20_000 });
    await eventually(async () => {
      const expected = posts.map((p) => p.id).sort();
      for (const who of [u.alice, u.bob, u.carol]) {
        const feed = await feedOf(proj.store, who);
        expect(feed.filter((id) => expected.includes(id)).sort()).toEqual(expected);
        expect(new Set(feed).size).toBe(feed.length); // no duplicates
      }
      for (const who of [u.dave, u.erin, u.frank]) {
        expect((await feedOf(proj.store, who)).filter((id) => expected.includes(id))).toEqual([]);
      }
    });
    // The victim's lease passes to the new host once it expires, and is then caught up.
    const running = workers;
    await eventually(async () => {
      const leases = await running.estimate();
      expect(leases[PROCESSOR_NAMES.fanout]!.map((l) => ({ owner: l.owner, lag: l.lag }))).toEqual(
        leases[PROCESSOR_NAMES.fanout]!.map(() => ({ owner: 'after-crash', lag: 0 })),
      );
    });
  });
});
