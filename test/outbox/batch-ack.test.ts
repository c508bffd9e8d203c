import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRelay } from '../../src/outbox/relay.ts';
import type { Db, Queryable } from '../../src/sql/db.ts';
import { canonicalDb, engineName, type ScratchDb, truncateAll } from '../support/databases.ts';
import { ApplyRecorder, emitPostEvents, outboxRows } from './support.ts';

const isAck = (sql: string) => /UPDATE outbox SET processed_at/.test(sql);

/**
 * The real database, with a switch that makes the acknowledgement statement fail (the
 * process dying between handling a batch and acknowledging it) and a count of them.
 */
function withAckFault(db: Db) {
  const state = { failAcks: false, acks: 0 };
  const guard = (sql: string) => {
    if (!isAck(sql)) return;
    state.acks++;
    if (state.failAcks) throw new Error('connection lost before the ack');
  };
  const wrapTx = (tx: Queryable): Queryable => ({
    query: (sql, params) => {
      guard(sql);
      return tx.query(sql, params);
    },
    exec: (sql) => tx.exec(sql),
  });
  const faulty: Db = {
    ...db,
    engine: db.engine,
    query: (sql, params) => {
      guard(sql);
      return db.query(sql, params);
    },
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction((tx) => fn(wrapTx(tx))),
    listen: (c, f) => db.listen(c, f),
    poolStats: () => db.poolStats(),
    close: () => db.close(),
  };
  return { db: faulty, state };
}

describe(`outbox relay batch acknowledgement (${engineName})`, () => {
  let s: ScratchDb;
  let db: Db;

  beforeAll(async () => {
    s = await canonicalDb({ poolMax: 6 });
    db = s.db;
  }, 180_000);
  afterEach(async () => {
    await truncateAll(db);
  });
  afterAll(async () => {
    await s.close();
  });

  it('acknowledges a whole claimed batch in one statement', async () => {
    const aggregates = Array.from({ length: 30 }, () => randomUUID());
    for (const a of aggregates) await emitPostEvents(db, a, 1);
    const { db: counted, state } = withAckFault(db);
    const rec = new ApplyRecorder();
    const relay = createRelay({ db: counted, apply: rec.apply, workerId: 'r1', batchSize: 100 });
    expect(await relay.runOnce()).toBe(30);
    expect(state.acks).toBe(1);
    expect((await outboxRows(db)).every((r) => r.processed)).toBe(true);
  });

  it('a crash between handling a batch and its ack replays it: each event applied again, none lost, order per aggregate kept', async () => {
    const a = randomUUID();
    const b = randomUUID();
    await emitPostEvents(db, a, 3);
    await emitPostEvents(db, b, 2);
    const rec = new ApplyRecorder();
    const { db: faulty, state } = withAckFault(db);
    state.failAcks = true;
    const dying = createRelay({ db: faulty, apply: rec.apply, workerId: 'dying' });
    expect(await dying.runOnce()).toBe(2); // a1 and b1 handled, the ack lost
    expect((await outboxRows(db)).some((r) => r.processed)).toBe(false);

    const survivor = createRelay({ db, apply: rec.apply, workerId: 'survivor' });
    expect(await survivor.runOnce()).toBe(0); // still leased to the dead relay: a2 waits behind a1
    await db.query(
      `UPDATE outbox SET lease_until = now() - interval '1 second' WHERE claimed_by = 'dying'`,
    );
    for (let n = await survivor.runOnce(); n > 0; n = await survivor.runOnce());
    expect(rec.versionsOf(a)).toEqual([1, 1, 2, 3]);
    expect(rec.versionsOf(b)).toEqual([1, 1, 2]);
    expect(rec.overlaps).toEqual([]);
    const rows = await outboxRows(db);
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.processed && r.claimed_by === 'survivor')).toBe(true);
  });

  it('a batch whose lease passed to another relay is acknowledged by that relay only', async () => {
    const a = randomUUID();
    await emitPostEvents(db, a, 1);
    const rec = new ApplyRecorder();
    let release: () => void = () => {};
    const slow = createRelay({
      db,
      workerId: 'slow',
      apply: async (e) => {
        await new Promise<void>((r) => {
          release = r;
        });
        await rec.apply(e);
      },
    });
    const running = slow.runOnce();
    await new Promise((r) => setTimeout(r, 100));
    // The slow relay's lease runs out; another relay takes and finishes the event.
    await db.query(`UPDATE outbox SET lease_until = now() - interval '1 second'`);
    const fast = createRelay({ db, apply: rec.apply, workerId: 'fast' });
    expect(await fast.runOnce()).toBe(1);
    release();
    await running; // its ack matches no row it still holds
    const rows = await outboxRows(db);
    expect(rows.map((r) => [r.processed, r.claimed_by])).toEqual([[true, 'fast']]);
    expect(rec.versionsOf(a)).toEqual([1, 1]);
  });

  it('an event written in this process wakes the relay at once, though its poll is a minute', async () => {
    const applied: number[] = [];
    const relay = createRelay({
      db,
      apply: async (e) => {
        applied.push(e.id);
      },
      pollIntervalMs: 60_000,
    });
    relay.start();
    try {
      await new Promise((r) => setTimeout(r, 500)); // the first (empty) round is done: asleep
      const t0 = Date.now();
      const [id] = await emitPostEvents(db, randomUUID(), 1);
      while (!applied.includes(id!) && Date.now() - t0 < 5_000)
        await new Promise((r) => setTimeout(r, 5));
      expect(applied).toContain(id);
      expect(Date.now() - t0).toBeLessThan(3_000);
    } finally {
      await relay.stop();
    }
  });
});
