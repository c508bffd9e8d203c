import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChangeFeedProcessor,
  createChangeFeedProcessor,
} from '../../src/changefeed/processor.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createEmbeddedStore } from '../../src/projections/embedded/store.ts';
import type { BulkOp, ProjectionStore, Stored } from '../../src/projections/port.ts';
import { containerDefs } from '../../src/readmodel/containers.ts';
import { createPgDb } from '../../src/sql/pg.ts';
import { engineName, serverUrl } from '../support/databases.ts';
import { embeddedStore, emptyStore, type TestStore } from '../support/projections.ts';
import { FAST, sleep, waitFor } from './helpers.ts';

/**
 * A transaction of another session on the server that holds an xid (so the feed's horizon
 * stays below it) until release(); `open` settles once it has ended.
 */
async function holdXid(url: string) {
  const db = createPgDb(url, { max: 1 });
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  let started!: () => void;
  const hasXid = new Promise<void>((r) => {
    started = r;
  });
  const open = db.transaction(async (tx) => {
    await tx.query('SELECT pg_current_xact_id()');
    started();
    await held;
  });
  await hasXid;
  return {
    release,
    open,
    async close() {
      release();
      await open.catch(() => undefined);
      await db.close();
    },
  };
}

/**
 * The write path of the change feed: readers woken by writes instead of the poll,
 * partition keys of one feed range handled concurrently in key order, and a bulk write
 * replayed after a crash before its checkpoint without a duplicate or a lost item.
 */
describe(`change feed write path (${engineName})`, () => {
  let ts: TestStore;
  let running: ChangeFeedProcessor[] = [];

  beforeAll(async () => {
    ts = await embeddedStore({ feedRanges: 1 }); // one feed range: every key shares it
  }, 120_000);
  afterAll(async () => {
    await ts?.close();
  });
  afterEach(async () => {
    for (const p of running) p.halt();
    running = [];
    await emptyStore(ts);
  });

  function processor(
    host: string,
    handle: (items: Stored[]) => Promise<void>,
    options: Parameters<typeof createChangeFeedProcessor>[0]['options'] = {},
    store: ProjectionStore = ts.store,
  ) {
    const p = createChangeFeedProcessor({
      store,
      container: 'posts_v2',
      processorName: 'write-path',
      hostName: host,
      // The documents are written before the processor first starts: read them all.
      startFrom: 'beginning',
      options: { ...FAST, ...options },
      log: silentLogger,
      handle,
    });
    running.push(p);
    return p;
  }

  it('a write wakes the reader at once, though the poll delay is a minute', async () => {
    const seen: number[] = [];
    const p = processor('h', async (items) => void seen.push(...items.map(() => Date.now())), {
      feedPollDelayMs: 60_000,
    });
    await p.start();
    await sleep(200); // the reader has found the feed empty and is waiting
    const t0 = Date.now();
    await ts.store.container('posts_v2').upsert({ id: 'p1', postId: 'p1', n: 1 });
    await waitFor(() => seen.length === 1, 5_000, 'the change handled');
    expect(seen[0]! - t0).toBeLessThan(2_000);
    // A bulk write wakes it too.
    const t1 = Date.now();
    await ts.store.container('posts_v2').bulk([{ op: 'upsert', doc: { id: 'p2', postId: 'p2' } }]);
    await waitFor(() => seen.length === 2, 5_000, 'the bulk change handled');
    expect(seen[1]! - t1).toBeLessThan(2_000);
  });

  // PGlite is one process: only a server has other processes' writes to announce.
  it.runIf(serverUrl)(
    'a write from another process (another store on the server) wakes the reader by NOTIFY',
    async () => {
      if (!ts.url) return;
      const seen: number[] = [];
      const p = processor('h', async (items) => void seen.push(...items.map(() => Date.now())), {
        feedPollDelayMs: 60_000,
      });
      await p.start();
      await sleep(300);
      const otherDb = createPgDb(ts.url, { max: 2 });
      const other = await createEmbeddedStore(otherDb, {
        feedRanges: 1,
        definitions: containerDefs,
      });
      try {
        const t0 = Date.now();
        await other.container('posts_v2').upsert({ id: 'remote', postId: 'remote' });
        // Other databases' open transactions on a shared server can hold the feed's horizon
        // back for a moment (see docs/projections.md): well under the minute-long poll.
        await waitFor(() => seen.length === 1, 15_000, 'the remote change handled');
        expect(seen[0]! - t0).toBeLessThan(10_000);
      } finally {
        await other.close();
        await otherDb.close();
      }
    },
  );

  it('a read says whether committed changes wait behind the horizon (pending)', async () => {
    const posts = ts.store.container('posts_v2');
    const [range] = await posts.feedRanges();
    // Reads until changes come; meanwhile each empty read must say that some are waiting
    // (on a shared server, other sessions' transactions may hold the horizon for a moment).
    const readUntilSome = async (continuation: string | null) => {
      let page = await posts.readChanges(range!, continuation, 100);
      for (let i = 0; i < 200 && page.items.length === 0; i++) {
        expect(page.pending).toBe(true);
        await sleep(50);
        page = await posts.readChanges(range!, page.continuation, 100);
      }
      return page;
    };
    await posts.upsert({ id: 'p1', postId: 'p1' });
    const first = await readUntilSome(null);
    expect(first.items.map((i) => i.id)).toEqual(['p1']);
    expect(first.pending).toBe(false); // nothing more to come: no re-read needed
    if (!ts.url) return; // PGlite is one session: no older transaction can be open
    // A transaction of another session that took its xid before the write holds the
    // horizon back: the write is committed but not readable yet, and the read says so.
    const { release, open, close } = await holdXid(ts.url);
    try {
      await posts.upsert({ id: 'p2', postId: 'p2' });
      const behind = await posts.readChanges(range!, first.continuation, 100);
      expect(behind.items).toEqual([]);
      expect(behind.pending).toBe(true);
      release();
      await open;
      const page = await readUntilSome(behind.continuation);
      expect(page.items.map((i) => i.id)).toEqual(['p2']);
    } finally {
      await close();
    }
  });

  it.runIf(serverUrl)(
    'a change behind the horizon is handled soon after the older transaction ends, not at the poll',
    async () => {
      if (!ts.url) return;
      const seen: number[] = [];
      const p = processor('h', async (items) => void seen.push(...items.map(() => Date.now())), {
        feedPollDelayMs: 60_000,
      });
      await p.start();
      await sleep(200);
      const { release, open, close } = await holdXid(ts.url);
      try {
        await ts.store.container('posts_v2').upsert({ id: 'late', postId: 'late' });
        // Held for 2.5 s: past the 10/40/160/640 ms re-checks a store without `pending` gets.
        await sleep(2_500);
        expect(seen).toEqual([]);
        release();
        await open;
        const t0 = Date.now();
        await waitFor(() => seen.length === 1, 15_000, 'the change handled');
        // Re-read every 50 ms while pending: well under the next 1 s re-check.
        expect(seen[0]! - t0).toBeLessThan(900);
      } finally {
        await close();
      }
    },
  );

  it.each([1, 4])(
    'a burst in one feed range is handled concurrently across keys, each key in order (%i batches in flight)',
    async (batchesInFlight) => {
      const KEYS = 24;
      const VERSIONS = 4;
      const byKey = new Map<string, number[]>();
      let inFlight = 0;
      let maxInFlight = 0;
      const p = processor(
        'h',
        async (items) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            // One call per key: every item of a call has the same partition key.
            expect(new Set(items.map((i) => i.postId)).size).toBe(1);
            await sleep(15); // a fan-out's worth of work
            for (const i of items) {
              const seen = byKey.get(String(i.postId)) ?? [];
              seen.push(Number(i.v));
              byKey.set(String(i.postId), seen);
            }
          } finally {
            inFlight--;
          }
        },
        { keyConcurrency: 8, maxItemCount: 10, batchesInFlight },
      );
      await p.start();
      const posts = ts.store.container('posts_v2');
      // Versions of every key interleaved, written while the processor reads.
      for (let v = 1; v <= VERSIONS; v++) {
        await posts.bulk(
          Array.from({ length: KEYS }, (_, k): BulkOp => {
            const id = `post-${k}`;
            return { op: 'upsert', doc: { id, postId: id, v } };
          }),
        );
      }
      await waitFor(
        () =>
          byKey.size === KEYS && [...byKey.values()].every((vs) => vs[vs.length - 1] === VERSIONS),
        10_000,
        'every key at its last version',
      );
      expect(maxInFlight).toBeGreaterThan(1);
      for (const [key, vs] of byKey) {
        // Latest-version feed: a key may skip versions, never go back.
        for (let i = 1; i < vs.length; i++) expect(vs[i], key).toBeGreaterThan(vs[i - 1]!);
      }
    },
  );

  /** A promise with its resolve, for handlers held until the test lets them go. */
  function gate() {
    let open!: () => void;
    const opened = new Promise<void>((r) => {
      open = r;
    });
    return { open, opened };
  }
  const lagOf = async (p: ChangeFeedProcessor) =>
    (await p.estimate()).reduce((sum, e) => sum + e.lag, 0);
  const IN_FLIGHT = { keyConcurrency: 8, batchesInFlight: 4, maxItemCount: 10 };
  /** Version v of the post `key` (its partition key too). */
  const writePost = (key: string, v = 1) =>
    ts.store.container('posts_v2').upsert({ id: key, postId: key, v });

  /**
   * A processor with batches in flight whose handler records `key@v` and holds slow@1 until
   * `slow.open()`; slow@1 is written and its call has started.
   */
  async function slowFirst() {
    const slow = gate();
    const calls: string[] = [];
    const p = processor(
      'h',
      async (items) => {
        for (const i of items) calls.push(`${i.postId}@${i.v}`);
        if (items[0]!.postId === 'slow' && items[0]!.v === 1) await slow.opened;
      },
      IN_FLIGHT,
    );
    await p.start();
    await writePost('slow');
    await waitFor(() => calls.includes('slow@1'), 5_000, 'the slow key started');
    return { p, slow, calls };
  }

  it('batches in flight: a key read later starts while an earlier batch runs; the same key waits; checkpoints wait for the earliest', async () => {
    const { p, slow, calls } = await slowFirst();
    // Read in later batches while the first is still being handled.
    await writePost('fast');
    await waitFor(() => calls.includes('fast@1'), 5_000, 'a new key started beside the slow batch');
    await writePost('slow', 2);
    await writePost('other');
    await waitFor(() => calls.includes('other@1'), 5_000, 'another new key');
    await sleep(100);
    expect(calls).not.toContain('slow@2'); // behind its own earlier version
    // Nothing checkpointed past the unfinished first batch (slow's two versions are one document).
    expect(await lagOf(p)).toBe(3);
    slow.open();
    await waitFor(() => calls.includes('slow@2'), 5_000, 'the slow key’s next version');
    await waitFor(async () => (await lagOf(p)) === 0, 5_000, 'every batch checkpointed');
    expect(calls.filter((c) => c.startsWith('slow'))).toEqual(['slow@1', 'slow@2']);
  });

  it('batches in flight: an earlier batch that fails is read again with the later ones, though they succeeded', async () => {
    const calls = new Map<string, number>();
    let failures = 0;
    const p = processor(
      'h',
      async (items) => {
        const key = String(items[0]!.postId);
        calls.set(key, (calls.get(key) ?? 0) + 1);
        if (key === 'bad' && failures === 0) {
          await sleep(150); // the later batch is handled meanwhile
          failures++;
          throw new Error('transient failure');
        }
      },
      IN_FLIGHT,
    );
    await p.start();
    await writePost('bad');
    await waitFor(() => calls.has('bad'), 5_000, 'the failing key started');
    await writePost('good');
    await waitFor(() => calls.has('good'), 5_000, 'the later key handled');
    await waitFor(async () => (await lagOf(p)) === 0, 5_000, 'both checkpointed after the retry');
    expect(failures).toBe(1);
    expect(calls.get('bad')).toBe(2);
    expect(calls.get('good')).toBe(2); // its batch came again: the checkpoint never passed 'bad'
  });

  it('batches in flight: a later batch that fails does not hold back an earlier one waiting on its key', async () => {
    const slow = gate();
    const handledAt = new Map<string, number>();
    let failedAt = 0;
    const p = processor(
      'h',
      async (items) => {
        const key = `${items[0]!.postId}@${items[0]!.v}`;
        if (key === 'bad@1' && !failedAt) {
          failedAt = Date.now();
          throw new Error('transient failure');
        }
        if (key === 'x@1') await slow.opened;
        handledAt.set(key, Date.now());
      },
      // One change a batch: x@2 and bad@1 are never read into one batch (whose failure would
      // rightly stop x@2 too). The retry after a failure waits the poll delay.
      { ...IN_FLIGHT, maxItemCount: 1, feedPollDelayMs: 3_000 },
    );
    await p.start();
    await writePost('x');
    await sleep(100);
    await writePost('x', 2); // a later batch: waits for x@1
    await sleep(100);
    await writePost('bad'); // later still: fails at once
    await waitFor(() => failedAt > 0, 5_000, 'the failure');
    slow.open();
    await waitFor(() => handledAt.has('x@2'), 5_000, 'x@2');
    // Handled as soon as x@1 was, not after the failed batch's retry.
    expect(handledAt.get('x@2')! - failedAt).toBeLessThan(1_500);
    await waitFor(() => handledAt.has('bad@1'), 10_000, 'the retry');
  });

  it('batches in flight: after halt() no handler call starts, not even one queued behind a running call', async () => {
    const { p, slow, calls } = await slowFirst();
    await writePost('slow', 2); // read in a later batch, waiting for slow@1
    await sleep(200);
    p.halt(); // a crash: nothing more is applied, the lease expires
    slow.open();
    await sleep(200);
    expect(calls).toEqual(['slow@1']);
  });

  it('a failed checkpoint write is not counted as an attempt at the batch (no change is isolated for it)', async () => {
    // The lease container's first checkpoint write fails (the store, not the batch).
    let failedWrites = 0;
    let armed = false;
    const leases = ts.store.container('leases');
    const flaky: ProjectionStore = Object.create(ts.store, {
      container: {
        value: (name: string) => {
          const c = ts.store.container(name);
          if (name !== 'leases') return c;
          return Object.create(c, {
            upsert: {
              value: async (...args: Parameters<typeof leases.upsert>) => {
                if (armed && failedWrites === 0 && args[0].continuation) {
                  failedWrites++;
                  throw new Error('lease store: connection reset');
                }
                return c.upsert(...args);
              },
            },
          });
        },
      },
    });
    const handled = new Set<string>();
    let failedOnce = false;
    const p = processor(
      'h',
      async (items) => {
        // A transient failure once the checkpoint failed: alone it must not dead-letter 'b'.
        if (failedWrites > 0 && !failedOnce) {
          failedOnce = true;
          throw new Error('transient handler error');
        }
        for (const i of items) handled.add(String(i.postId));
      },
      { maxBatchAttempts: 2 },
      flaky,
    );
    await p.start();
    await sleep(100);
    armed = true;
    await writePost('a');
    await writePost('b');
    await waitFor(async () => (await lagOf(p)) === 0, 5_000, 'every change checkpointed');
    expect(failedWrites).toBe(1);
    expect(failedOnce).toBe(true);
    expect([...handled].sort()).toEqual(['a', 'b']);
    const dead = await ts.store.container('leases').query({ limit: 100 });
    expect(dead.items.filter((d) => d.deadLetterOf !== undefined)).toEqual([]);
  });

  it('batches in flight: stop() lets them finish and checkpoints them', async () => {
    const { p, slow, calls } = await slowFirst();
    await writePost('fast');
    await waitFor(() => calls.includes('fast@1'), 5_000, 'the later key handled');
    const stopped = p.stop();
    await sleep(50);
    slow.open();
    await stopped;
    const next = processor('next', async (items) => {
      calls.push(`again:${items[0]!.postId}`);
    });
    expect(await lagOf(next)).toBe(0);
    await next.start();
    await sleep(200);
    expect(calls.filter((c) => c.startsWith('again:'))).toEqual([]);
  });

  it('a crash between a bulk write and its checkpoint replays it: no duplicate, no lost item', async () => {
    const RECIPIENTS = 40;
    const feed = ts.store.container('userFeed');
    const calls = new Map<string, number>();
    // A fan-out: every post to every recipient, one bulk write per batch of posts.
    const fanOut = async (items: Stored[]) => {
      const ops: BulkOp[] = [];
      for (const post of items) {
        calls.set(post.id, (calls.get(post.id) ?? 0) + 1);
        for (let r = 0; r < RECIPIENTS; r++) {
          const recipientId = `r-${r}`;
          ops.push({
            op: 'upsert',
            doc: {
              id: `${recipientId}:${post.id}`,
              recipientId,
              postId: post.id,
              createdAt: String(post.createdAt),
              sourceVersion: Number(post.v),
            },
          });
        }
      }
      const res = await feed.bulk(ops);
      expect(res.statuses.every((s) => s === 200 || s === 201)).toBe(true);
    };
    const posts = ts.store.container('posts_v2');
    await posts.bulk(
      Array.from({ length: 30 }, (_, k): BulkOp => {
        const id = `post-${String(k).padStart(2, '0')}`;
        return { op: 'upsert', doc: { id, postId: id, v: 1, createdAt: `2026-01-01T00:00:${k}` } };
      }),
    );
    let crashed = false;
    const victim = processor('victim', async (items) => {
      await fanOut(items);
      if (!crashed) {
        crashed = true;
        victim.halt(); // the bulk write is durable; the checkpoint never happens
      }
    });
    await victim.start();
    await waitFor(() => crashed, 5_000, 'the crash');
    const survivor = processor('survivor', fanOut);
    await survivor.start();
    await waitFor(
      async () => (await survivor.estimate()).every((e) => e.lag === 0) && calls.size === 30,
      10_000,
      'the survivor caught up',
    );
    expect([...calls.values()].some((n) => n > 1)).toBe(true); // the crashed batch came again
    for (let r = 0; r < RECIPIENTS; r++) {
      const page = await feed.query<{ id: string; postId: string }>({
        partitionKey: `r-${r}`,
        limit: 100,
      });
      const ids = page.items.map((i) => i.postId).sort();
      expect(ids).toEqual(
        Array.from({ length: 30 }, (_, k) => `post-${String(k).padStart(2, '0')}`),
      );
    }
  });
});
