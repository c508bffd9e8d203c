import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.ts';
import { ackEvent, claimBatch } from '../../src/outbox/claim.ts';
import { createRelay, type Relay } from '../../src/outbox/relay.ts';
import type { Db } from '../../src/sql/db.ts';
import { createPgDb } from '../../src/sql/pg.ts';
import { engineName, serverUrl, truncateAll } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';
import { ApplyRecorder, emitPostEvents, outboxRows, waitFor } from './support.ts';

describe(`outbox relay (${engineName})`, () => {
  const s = useCanonicalDb({ poolMax: 6 });
  let db: Db;
  const relays: Relay[] = [];
  const extraDbs: Db[] = [];

  beforeAll(() => {
    db = s.db;
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await Promise.all(extraDbs.splice(0).map((d) => d.close()));
    await truncateAll(db);
  });

  it('claims only the oldest pending event of each aggregate, and nothing of an aggregate in flight', async () => {
    const a = randomUUID();
    const b = randomUUID();
    await emitPostEvents(db, a, 3);
    await emitPostEvents(db, b, 2);

    const first = await claimBatch(db, 'w1', 100, 30);
    expect(first.map((e) => [e.aggregateId, e.aggregateVersion])).toEqual([
      [a, 1],
      [b, 1],
    ]);
    // While a1 and b1 are leased, a second relay gets nothing: the later events wait their turn.
    expect(await claimBatch(db, 'w2', 100, 30)).toEqual([]);

    // The lease holder's ack succeeds: it returns the event's lag in seconds (null = not ours).
    const lag = await ackEvent(db, 'w1', first[0]!.id);
    expect(lag).not.toBeNull();
    expect(lag).toBeGreaterThanOrEqual(0);
    expect((await outboxRows(db))[0]).toMatchObject({ processed: true });
    const second = await claimBatch(db, 'w2', 100, 30);
    expect(second.map((e) => [e.aggregateId, e.aggregateVersion])).toEqual([[a, 2]]);
    // Only the lease holder may acknowledge.
    expect(await ackEvent(db, 'w1', second[0]!.id)).toBeNull();
    expect(first[0]!.payload).toMatchObject({ id: a, version: 1, status: 'published' });
    expect(first[0]!.createdAt).toBeInstanceOf(Date);
  });

  it('respects the batch size and due time', async () => {
    const aggs = Array.from({ length: 5 }, () => randomUUID());
    for (const a of aggs) await emitPostEvents(db, a, 1);
    await db.query(
      `UPDATE outbox SET next_retry_at = now() + interval '1 hour' WHERE aggregate_id = $1`,
      [aggs[4]],
    );
    const batch = await claimBatch(db, 'w', 3, 30);
    expect(batch).toHaveLength(3);
    const rest = await claimBatch(db, 'w', 100, 30);
    expect(rest.map((e) => e.aggregateId)).toEqual([aggs[3]]);
  });

  it('applies every event exactly in aggregate order with three relays in parallel, never two of one aggregate at once', async () => {
    const aggs = Array.from({ length: 12 }, () => randomUUID());
    await Promise.all(aggs.map((a) => emitPostEvents(db, a, 6)));
    const rec = new ApplyRecorder();
    // On a server each relay gets its own pool: real concurrent claim transactions.
    const dbs = serverUrl ? [0, 1, 2].map(() => createPgDb(s.url!, { max: 4 })) : [db, db, db];
    if (serverUrl) extraDbs.push(...dbs);
    for (const [i, d] of dbs.entries()) {
      const relay = createRelay({
        db: d,
        workerId: `relay-${i}`,
        apply: (e) => rec.apply(e, 2 + Math.floor(Math.random() * 4)),
        batchSize: 5,
        pollIntervalMs: 20,
        concurrency: 4,
      });
      relays.push(relay);
      relay.start();
    }
    await waitFor(async () => (await outboxRows(db)).every((r) => r.processed), 20_000);
    expect(rec.overlaps).toEqual([]);
    for (const a of aggs) expect(rec.versionsOf(a)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rec.applied).toHaveLength(72);
    const workers = new Set((await outboxRows(db)).map((r) => r.claimed_by));
    expect(workers.size).toBeGreaterThan(1);
  });

  it('stop() lets the batch in flight finish and acknowledges it', async () => {
    const a = randomUUID();
    await emitPostEvents(db, a, 1);
    let started = false;
    const relay = createRelay({
      db,
      apply: async () => {
        started = true;
        await new Promise((r) => setTimeout(r, 300));
      },
      pollIntervalMs: 10,
    });
    relay.start();
    await waitFor(() => started);
    await relay.stop();
    expect((await outboxRows(db))[0]!.processed).toBe(true);
    await relay.stop(); // idempotent
  });

  it('an apply that hangs is timed out and retried later; the rest of the batch completes', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await emitPostEvents(db, a, 1);
    await emitPostEvents(db, b, 1);
    const relay = createRelay({
      db,
      applyTimeoutMs: 200,
      apply: (e) => (e.aggregateId === a ? new Promise<void>(() => {}) : Promise.resolve()),
    });
    relays.push(relay);
    expect(await relay.runOnce()).toBe(2);
    const rows = await outboxRows(db);
    expect(rows.find((r) => r.aggregate_id === b)!.processed).toBe(true);
    expect(rows.find((r) => r.aggregate_id === a)).toMatchObject({
      processed: false,
      retry_count: 1,
      last_error: expect.stringMatching(
        /^TimeoutError: applying outbox event \d+ did not answer within 200 ms/,
      ),
    });
  });

  it('records processed and lag metrics', async () => {
    const metrics = new Metrics();
    await emitPostEvents(db, randomUUID(), 2);
    const relay = createRelay({ db, apply: async () => {}, metrics });
    expect(await relay.runOnce()).toBe(1);
    expect(await relay.runOnce()).toBe(1);
    expect(await relay.runOnce()).toBe(0);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /asora_outbox_processed_total\{event_type="post.updated",outcome="ok"\} 2/,
    );
    expect(text).toMatch(/asora_outbox_lag_seconds_count\{event_type="post.updated"\} 2/);
  });

  it('a relay that dies between apply and ack loses nothing: the lease expires and another relay re-applies once', async () => {
    const a = randomUUID();
    await emitPostEvents(db, a, 2);
    const rec = new ApplyRecorder();
    // The dying relay claims and applies, then never acknowledges (its process is gone).
    const claimed = await claimBatch(db, 'dead-relay', 100, 30);
    for (const e of claimed) await rec.apply(e);
    const survivor = createRelay({ db, apply: (e) => rec.apply(e), workerId: 'survivor' });
    expect(await survivor.runOnce()).toBe(0); // still leased
    // Lease runs out (moved instead of waited for).
    await db.query(
      `UPDATE outbox SET lease_until = now() - interval '1 second' WHERE claimed_by = 'dead-relay'`,
    );
    expect(await survivor.runOnce()).toBe(1);
    expect(await survivor.runOnce()).toBe(1);
    expect(rec.versionsOf(a)).toEqual([1, 1, 2]);
    // A late ack from the dead relay changes nothing.
    expect(await ackEvent(db, 'dead-relay', claimed[0]!.id)).toBeNull();
    const rows = await outboxRows(db);
    expect(rows.every((r) => r.processed && r.claimed_by === 'survivor')).toBe(true);
  });

  // PGlite is in-process: it cannot become unreachable underneath the relay.
  it.runIf(serverUrl)(
    'survives an unreachable database: runOnce rejects, the loop logs and stops cleanly',
    async () => {
      const broken = createPgDb('postgres://postgres@127.0.0.1:1/nowhere', { max: 1 });
      extraDbs.push(broken);
      const relay = createRelay({
        db: broken,
        apply: async () => {},
        pollIntervalMs: 20,
        listen: false,
      });
      await expect(relay.runOnce()).rejects.toThrow();
      relay.start();
      await new Promise((r) => setTimeout(r, 100));
      await relay.stop(); // no unhandled rejection, stops cleanly
    },
  );

  // Another process's NOTIFY: a server feature (on PGlite the writer is in-process; see batch-ack.test.ts).
  it.runIf(serverUrl)('wakes on NOTIFY well before the poll interval', async () => {
    const listenDb = createPgDb(s.url!, { max: 3 });
    extraDbs.push(listenDb);
    const applied: number[] = [];
    const relay = createRelay({
      db: listenDb,
      apply: async (e) => {
        applied.push(e.id);
      },
      pollIntervalMs: 60_000,
    });
    relays.push(relay);
    relay.start();
    // Wait until the LISTEN session is up.
    await waitFor(async () => {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`,
      );
      return rows[0]!.n > 0;
    });
    await new Promise((r) => setTimeout(r, 100)); // let the first (empty) poll finish and sleep
    const t0 = Date.now();
    const [id] = await emitPostEvents(db, randomUUID(), 1);
    await waitFor(() => applied.includes(id!), 5_000, 5);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });
});
