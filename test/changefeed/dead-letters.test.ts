import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillProcessor } from '../../src/changefeed/backfill.ts';
import { listDeadLetters } from '../../src/changefeed/dead-letter.ts';
import { listLeases } from '../../src/changefeed/lease-store.ts';
import { createChangeFeedProcessor } from '../../src/changefeed/processor.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { runDeadLetters, runRedrive } from '../../src/ops/changefeed.ts';
import type { Output } from '../../src/ops/output.ts';
import type { Stored } from '../../src/projections/port.ts';
import { engineName } from '../support/databases.ts';
import { embeddedStore, emptyStore, type TestStore } from '../support/projections.ts';
import { FAST, sleep, waitFor, writeDocs } from './helpers.ts';

function buffer(): Output & { out: string[] } {
  const out: string[] = [];
  return { out, log: (l) => out.push(l), error: (l) => out.push(l), interactive: false };
}

describe(`poison changes and start positions (${engineName})`, () => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await embeddedStore({ feedRanges: 2 });
  }, 120_000);
  afterAll(async () => {
    await ts?.close();
  });

  it('a poison change is retried the configured number of times, dead-lettered, skipped, and redriven by a command', {
    timeout: 60_000,
  }, async () => {
    await emptyStore(ts);
    const store = ts.store;
    const ids = await writeDocs(store, 0, 30);
    const handled = new Map<string, number>();
    let poisoned = true;
    let poisonCalls = 0;
    const metrics = new Metrics();
    const p = createChangeFeedProcessor({
      store,
      container: 'posts_v2',
      processorName: 'fanout', // a pipeline processor name, so the runbook commands know it
      hostName: 'host-a',
      options: { ...FAST, maxItemCount: 5, maxBatchAttempts: 3 },
      startFrom: 'beginning',
      log: silentLogger,
      metrics,
      handle: async (items: Stored[]) => {
        if (poisoned && items.some((i) => i.id === 'doc-00007')) {
          poisonCalls++;
          throw new Error('cannot handle doc-00007');
        }
        for (const i of items) handled.set(i.id, (handled.get(i.id) ?? 0) + 1);
      },
    });
    await p.start();
    const others = ids.filter((id) => id !== 'doc-00007');
    await waitFor(
      () => others.every((id) => handled.has(id)),
      10_000,
      'every other change handled',
    );
    // Two batch attempts, then the third isolates it: once alone.
    expect(poisonCalls).toBe(3);
    expect(handled.has('doc-00007')).toBe(false);
    const dls = await listDeadLetters(store.container('leases'), 'fanout');
    expect(dls.map((d) => [d.itemId, d.container, d.attempts])).toEqual([
      ['doc-00007', 'posts_v2', 3],
    ]);
    expect(dls[0]?.error).toContain('cannot handle doc-00007');
    const { values } = await metrics.changeFeedDeadLetters.get();
    expect(values[0]?.value).toBe(1);

    const listed = buffer();
    await runDeadLetters(store, 'fanout', listed);
    expect(listed.out.join('\n')).toContain('doc-00007');
    await expect(runRedrive(store, { ids: ['dlq:nope'] }, buffer())).rejects.toThrow(
      /no such dead letter/,
    );

    poisoned = false;
    const redriven = buffer();
    expect(await runRedrive(store, { all: true }, redriven)).toBe(1);
    expect(redriven.out.join('\n')).toContain('posts_v2/doc-00007 is on the change feed again');
    await waitFor(() => handled.get('doc-00007') === 1, 10_000, 'the redriven change handled');
    expect(await listDeadLetters(store.container('leases'))).toEqual([]);
    await p.stop();
  });

  it('a new processor on a non-empty container starts from now; backfill replays history; a time start skips older changes', {
    timeout: 120_000,
  }, async () => {
    await emptyStore(ts);
    const store = ts.store;
    await writeDocs(store, 0, 10, 'old');
    const handled = new Set<string>();
    const make = (name: string, startFrom?: Date) =>
      createChangeFeedProcessor({
        store,
        container: 'posts_v2',
        processorName: name,
        hostName: 'host-a',
        options: FAST,
        startFrom,
        log: silentLogger,
        handle: async (items) => {
          for (const i of items) handled.add(`${name}:${i.id}`);
        },
      });
    const p = make('fanout');
    await p.start();
    await waitFor(() => p.ownedLeases().length === 2, 30_000, 'leases');
    await writeDocs(store, 100, 5, 'new');
    await waitFor(
      () => [...handled].filter((h) => h.startsWith('fanout:')).length === 5,
      30_000,
      'new changes',
    );
    expect([...handled].every((h) => h.startsWith('fanout:doc-001'))).toBe(true);
    await p.stop();

    const reset = await backfillProcessor(
      store.container('leases'),
      store.container('posts_v2'),
      'fanout',
    );
    expect(reset.length).toBe(2);
    const again = make('fanout');
    await again.start();
    await waitFor(() => handled.size === 15, 30_000, 'history after the backfill');
    await again.stop();

    // A start time has one-second grain (item _ts; Cosmos takes an HTTP date).
    await sleep(1100);
    const cut = new Date(Math.ceil(Date.now() / 1000) * 1000);
    await sleep(cut.getTime() - Date.now() + 50);
    await writeDocs(store, 200, 3, 'later');
    const timed = make('from-time', cut);
    await timed.start();
    await waitFor(
      () => [...handled].filter((h) => h.startsWith('from-time:')).length === 3,
      30_000,
      'changes after the time',
    );
    await sleep(200);
    expect([...handled].filter((h) => h.startsWith('from-time:')).sort()).toEqual([
      'from-time:doc-00200',
      'from-time:doc-00201',
      'from-time:doc-00202',
    ]);
    await timed.stop();
    const leases = await listLeases(store.container('leases'), 'from-time', 'posts_v2');
    expect(leases.every((l) => l.startTime === cut.toISOString())).toBe(true);
  });
});
