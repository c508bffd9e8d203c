import { afterEach, describe, expect, it } from 'vitest';
import { type LeaseDoc, leaseId } from '../../src/changefeed/lease.ts';
import {
  type ChangeFeedProcessor,
  createChangeFeedProcessor,
} from '../../src/changefeed/processor.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import type { ProjectionStore, Stored } from '../../src/projections/port.ts';
import { engineName } from '../support/databases.ts';
import { emptyStore } from '../support/projections.ts';
import { useEmbeddedStore } from '../support/use-stores.ts';
import { eventually, FAST, waitFor, writeDocs } from './helpers.ts';

describe(`change-feed processor (${engineName})`, () => {
  const ts = useEmbeddedStore({ feedRanges: 6 });
  let store: ProjectionStore;
  let running: ChangeFeedProcessor[] = [];
  let handled: Map<string, number>;

  afterEach(async () => {
    for (const p of running) p.halt();
    running = [];
  });

  async function fresh() {
    await emptyStore(ts);
    store = ts.store;
    handled = new Map();
  }

  function processor(
    host: string,
    extra: Partial<Parameters<typeof createChangeFeedProcessor>[0]> = {},
  ) {
    const p = createChangeFeedProcessor({
      store,
      container: 'posts_v2',
      processorName: 'test',
      hostName: host,
      options: FAST,
      startFrom: 'beginning',
      log: silentLogger,
      handle: async (items: Stored[]) => {
        for (const i of items) handled.set(i.id, (handled.get(i.id) ?? 0) + 1);
      },
      ...extra,
    });
    running.push(p);
    return p;
  }

  const leaseDocs = async () =>
    (
      await store
        .container('leases')
        .readMany<LeaseDoc>(
          Array.from({ length: 6 }, (_, i) => leaseId('test', 'posts_v2', `${i}-of-6`)).map(
            (id) => ({ id, partitionKey: id }),
          ),
        )
    ).items;

  it('shares the leases evenly across three hosts, hands a stopped host’s leases over, handles every change', async () => {
    await fresh();
    const ids = await writeDocs(store, 0, 120);
    const [a, b, c] = [processor('host-a'), processor('host-b'), processor('host-c')];
    await Promise.all([a.start(), b.start(), c.start()]);
    await waitFor(
      () => [a, b, c].every((p) => p.ownedLeases().length === 2),
      10_000,
      'an even split 2/2/2',
    );
    // Ownership is disjoint and complete.
    const all = [a, b, c].flatMap((p) => p.ownedLeases());
    expect(new Set(all).size).toBe(6);
    await waitFor(() => ids.every((id) => handled.has(id)), 10_000, 'every change handled');

    const stoppedAt = Date.now();
    await a.stop();
    // Released (owner cleared), not merely left to expire.
    expect(a.ownedLeases()).toEqual([]);
    await waitFor(
      () => b.ownedLeases().length + c.ownedLeases().length === 6,
      FAST.leaseExpirationIntervalMs,
      'b and c to own all 6 leases',
    );
    expect(Date.now() - stoppedAt).toBeLessThan(FAST.leaseExpirationIntervalMs!); // within the expiry interval
    await waitFor(
      () => b.ownedLeases().length === 3 && c.ownedLeases().length === 3,
      5_000,
      'a 3/3 split',
    );

    const more = await writeDocs(store, 120, 60);
    await waitFor(
      () => more.every((id) => handled.has(id)),
      10_000,
      'changes after the handover handled',
    );
    const docs = await leaseDocs();
    expect(docs.map((d) => d.owner).sort()).toEqual([
      'host-b',
      'host-b',
      'host-b',
      'host-c',
      'host-c',
      'host-c',
    ]);
    await Promise.all([b.stop(), c.stop()]);
    expect((await leaseDocs()).every((d) => d.owner === null)).toBe(true);
  });

  it('a host that dies without releasing loses its leases only after they expire', async () => {
    await fresh();
    // A longer expiry than the other tests, so a loaded machine cannot blur "before" and "after".
    const options = { ...FAST, leaseExpirationIntervalMs: 2_000 };
    const a = processor('host-a', { options });
    const b = processor('host-b', { options });
    await a.start();
    await waitFor(() => a.ownedLeases().length === 6, 5_000, 'a to own everything');
    await b.start();
    await waitFor(
      () => a.ownedLeases().length === 3 && b.ownedLeases().length === 3,
      5_000,
      'a 3/3 split',
    );
    a.halt(); // killed: no release, no renewals
    const diedAt = Date.now();
    // Not yet expired: the dead host still owns its three, and b does not take them.
    expect((await leaseDocs()).filter((d) => d.owner === 'host-a')).toHaveLength(3);
    await writeDocs(store, 0, 30);
    await waitFor(() => b.ownedLeases().length === 6, 10_000, 'b to take the expired leases');
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(options.leaseExpirationIntervalMs - 400);
    await waitFor(() => handled.size === 30, 5_000, 'every change handled');
    await b.stop();
  });

  it('a host restarted under the same name takes its own leases back at once', async () => {
    await fresh();
    const options = { ...FAST, leaseExpirationIntervalMs: 5_000 };
    const first = processor('host-a', { options });
    await first.start();
    await waitFor(() => first.ownedLeases().length === 6, 5_000, 'all leases');
    first.halt();
    const restarted = processor('host-a', { options });
    const t0 = Date.now();
    await restarted.start();
    await waitFor(() => restarted.ownedLeases().length === 6, 4_000, 'its leases back');
    expect(Date.now() - t0).toBeLessThan(options.leaseExpirationIntervalMs);
    const ids = await writeDocs(store, 0, 10);
    await waitFor(() => ids.every((id) => handled.has(id)), 5_000, 'changes handled');
    await restarted.stop();
  });

  it('stop() lets the batch in flight finish and checkpoint before releasing', async () => {
    await fresh();
    const ids = await writeDocs(store, 0, 12);
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    const p = processor('host-a', {
      options: { ...FAST, maxItemCount: 100 },
      handle: async (items) => {
        entered();
        await new Promise((r) => setTimeout(r, 300));
        for (const i of items) handled.set(i.id, (handled.get(i.id) ?? 0) + 1);
      },
    });
    await p.start();
    await inHandler;
    await p.stop();
    const docs = await leaseDocs();
    expect(docs.every((d) => d.owner === null)).toBe(true);
    // Whatever was handled is checkpointed: a new host has no lag for it and redelivers nothing.
    const handledBefore = new Map(handled);
    const q = processor('host-b');
    await q.start();
    await waitFor(() => ids.every((id) => handled.has(id)), 5_000, 'the rest handled');
    for (const [id, n] of handledBefore) expect(handled.get(id)).toBe(n);
    await q.stop();
  });

  it('a crash between handling and checkpoint redelivers the batch; the projection ends the same', async () => {
    await fresh();
    const counters = store.container('counters');
    // The handler's projection: one idempotent document per change.
    const project = async (items: Stored[]) => {
      for (const i of items) {
        handled.set(i.id, (handled.get(i.id) ?? 0) + 1);
        await counters.upsert({ id: i.id, subjectId: i.id, metric: 'likes', value: Number(i.n) });
      }
    };
    const ids = await writeDocs(store, 0, 60);
    let crashed = false;
    const victim = processor('host-a', {
      handle: async (items) => {
        await project(items);
        if (!crashed) {
          crashed = true;
          victim.halt(); // dies after applying, before the checkpoint
        }
      },
    });
    await victim.start();
    await waitFor(() => crashed, 5_000, 'the crash');
    const before = await leaseDocs();
    expect(before.every((d) => d.continuation === null)).toBe(true); // nothing acknowledged after the crash's batch

    const survivor = processor('host-b', { handle: project });
    await survivor.start();
    await waitFor(
      () => ids.every((id) => handled.has(id)),
      5_000,
      'every change handled after restart',
    );
    await waitFor(
      async () => (await survivor.estimate()).every((e) => e.lag === 0),
      5_000,
      'lag 0',
    );
    const twice = [...handled].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.length).toBeGreaterThan(0); // the crashed batch was redelivered
    const page = await counters.query<{
      id: string;
      value: number;
      subjectId: string;
      metric: string;
    }>({ limit: 1000 });
    expect(page.items).toHaveLength(60);
    expect(Object.fromEntries(page.items.map((d) => [d.id, d.value]))).toEqual(
      Object.fromEntries(ids.map((id, i) => [id, i])),
    );
    await survivor.stop();
  });

  it('a failing handler is retried from the last checkpoint; nothing is skipped', async () => {
    await fresh();
    const ids = await writeDocs(store, 0, 40);
    let failures = 0;
    const p = processor('host-a', {
      options: { ...FAST, maxItemCount: 5 },
      handle: async (items) => {
        if (items.some((i) => i.id === 'doc-00007') && failures < 3) {
          failures++;
          throw new Error('poison for a while');
        }
        for (const i of items) handled.set(i.id, (handled.get(i.id) ?? 0) + 1);
      },
    });
    await p.start();
    await waitFor(() => ids.every((id) => handled.has(id)), 10_000, 'every change handled');
    expect(failures).toBe(3);
    await p.stop();
  });

  it('keeps going after the store is unreachable for a while', async () => {
    await fresh();
    let down = false;
    const flaky: ProjectionStore = {
      ...store,
      container: (name) => {
        const c = store.container(name);
        if (name !== 'posts_v2' && name !== 'leases') return c;
        return new Proxy(c, {
          get(target, prop, recv) {
            const v = Reflect.get(target, prop, recv);
            if (typeof v !== 'function') return v;
            return (...args: unknown[]) => {
              if (down) return Promise.reject(new Error('store unreachable (injected)'));
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
      },
    };
    const p = processor('host-a', { store: flaky });
    await p.start();
    await waitFor(() => p.ownedLeases().length === 6, 5_000, 'all leases');
    down = true;
    const ids = await writeDocs(store, 0, 20);
    await new Promise((r) => setTimeout(r, 300));
    expect(handled.size).toBe(0);
    down = false;
    await waitFor(
      () => ids.every((id) => handled.has(id)),
      5_000,
      'every change handled after recovery',
    );
    await p.stop();
  });

  it('estimates lag per lease and exports it; reports lease ownership and delay metrics', async () => {
    await fresh();
    const metrics = new Metrics();
    await writeDocs(store, 0, 50);
    let gate = true;
    const p = processor('host-a', {
      metrics,
      handle: async (items) => {
        if (gate) throw new Error('not yet');
        for (const i of items) handled.set(i.id, 1);
      },
    });
    await eventually(async () => {
      const before = await p.estimate();
      expect(before).toHaveLength(6);
      expect(before.reduce((s, e) => s + e.lag, 0)).toBe(50);
      expect(before.every((e) => e.owner === null)).toBe(true);
    });
    await p.start();
    await waitFor(() => p.ownedLeases().length === 6, 5_000, 'all leases');
    const owned = await metrics.registry.getSingleMetricAsString('asora_changefeed_leases_owned');
    expect(owned).toContain('asora_changefeed_leases_owned{container="posts_v2"} 6');
    gate = false;
    await waitFor(
      async () => (await p.estimate()).every((e) => e.lag === 0),
      5_000,
      'lag to reach 0',
    );
    const est = await p.estimate();
    expect(est.every((e) => e.owner === 'host-a')).toBe(true);
    const lag = await metrics.registry.getSingleMetricAsString('asora_changefeed_estimated_lag');
    expect(lag).toContain(`lease="${leaseId('test', 'posts_v2', '0-of-6')}"`);
    const delay = await metrics.registry.getSingleMetricAsString('asora_changefeed_delay_seconds');
    expect(delay).toMatch(/asora_changefeed_delay_seconds_count\{[^}]*handler="test"[^}]*\} 50$/m);
    await p.stop();
    expect(
      await metrics.registry.getSingleMetricAsString('asora_changefeed_leases_owned'),
    ).toContain('asora_changefeed_leases_owned{container="posts_v2"} 0');
  });

  it('rejects a bad configuration with a typed error', async () => {
    await fresh();
    expect(() => processor('host:a')).toThrow(RangeError);
    expect(() => processor('', {})).toThrow(/hostName/);
    expect(() =>
      processor('h', { options: { leaseExpirationIntervalMs: 10, leaseRenewIntervalMs: 50 } }),
    ).toThrow(/shorter/);
    expect(() => processor('h', { container: 'nope' })).toThrow(/unknown container/);
    running = running.filter((p) => p.isRunning());
  });
});
