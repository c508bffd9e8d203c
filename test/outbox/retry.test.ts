import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import type { OutboxEvent } from '../../src/outbox/event.ts';
import { createRelay } from '../../src/outbox/relay.ts';
import { retryDelaySeconds } from '../../src/outbox/retry.ts';
import { outboxStatus, redrive, replayOutbox } from '../../src/outbox/status.ts';
import type { Db } from '../../src/sql/db.ts';
import { engineName } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';
import { dbNow, emitPostEvents, makeRetriesDue, outboxRows } from './support.ts';

describe(`outbox retry, dead-letter and redrive (${engineName})`, () => {
  const s = useCanonicalDb({ reset: 'each' });
  let db: Db;
  beforeAll(() => {
    db = s.db;
  });

  it('computes the seed schedule: base · 2^retry_count plus at most 10% jitter', () => {
    expect([0, 1, 2, 3].map((n) => retryDelaySeconds(n, 60, () => 0))).toEqual([60, 120, 240, 480]);
    expect(retryDelaySeconds(2, 60, () => 0.999_999)).toBeCloseTo(264, 3);
    expect(retryDelaySeconds(40, 60, () => 0)).toBe(7 * 24 * 3600); // capped, never Infinity
  });

  it('retries a poison event on schedule, dead-letters it after max_retries, and other aggregates keep flowing', async () => {
    const poison = randomUUID();
    const healthy = randomUUID();
    await emitPostEvents(db, poison, 2); // v1 poison, v2 waits behind it
    await db.query(`UPDATE outbox SET max_retries = 4 WHERE aggregate_id = $1`, [poison]);
    const applied: OutboxEvent[] = [];
    const metrics = new Metrics();
    const relay = createRelay({
      db,
      metrics,
      baseBackoffSeconds: 60,
      apply: async (e) => {
        if (e.aggregateId === poison && e.aggregateVersion === 1)
          throw new Error(`cannot apply ${e.id}`);
        applied.push(e);
      },
    });

    const delays: [number, number][] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      await emitPostEvents(db, randomUUID(), 1); // a fresh healthy aggregate each round
      if (attempt === 0) await emitPostEvents(db, healthy, 3);
      const before = await dbNow(db);
      await relay.runOnce();
      const after = await dbNow(db);
      const row = (await outboxRows(db)).find(
        (r) => r.aggregate_id === poison && r.aggregate_version === 1,
      )!;
      expect(row.retry_count).toBe(attempt + 1);
      expect(row.last_error).toBe(`Error: cannot apply ${row.id}`);
      if (attempt < 3) {
        expect(row.dead).toBe(false);
        const lo = (row.next_retry_at.getTime() - after.getTime()) / 1000;
        const hi = (row.next_retry_at.getTime() - before.getTime()) / 1000;
        delays.push([lo, hi]);
        const expected = 60 * 2 ** attempt;
        expect(hi).toBeGreaterThanOrEqual(expected);
        expect(lo).toBeLessThanOrEqual(expected * 1.1);
        // Not due yet: another round applies nothing of this aggregate.
        expect(await relay.runOnce()).toBeLessThanOrEqual(1);
        await makeRetriesDue(db);
      } else {
        expect(row.dead).toBe(true);
      }
    }
    expect(delays).toHaveLength(3);
    // v2 of the poisoned aggregate was held back until v1 was dead-lettered, then proceeds.
    expect(applied.some((e) => e.aggregateId === poison)).toBe(false);
    while ((await relay.runOnce()) > 0);
    expect(applied.filter((e) => e.aggregateId === poison).map((e) => e.aggregateVersion)).toEqual([
      2,
    ]);
    expect(applied.filter((e) => e.aggregateId === healthy).map((e) => e.aggregateVersion)).toEqual(
      [1, 2, 3],
    );
    expect(applied.length).toBe(4 + 3 + 1);

    const status = await outboxStatus(db);
    expect(status).toMatchObject({ pending: 0, failed: 0, deadLettered: 1 });
    expect(status.byEventType['post.updated']).toEqual({ pending: 0, failed: 0, deadLettered: 1 });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/outcome="retry"\} 3/);
    expect(text).toMatch(/outcome="dead_letter"\} 1/);
  });

  it('redrive resets dead-lettered and failed events; the relay then applies them', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await emitPostEvents(db, a, 1);
    await emitPostEvents(db, b, 1);
    await emitPostEvents(db, c, 1);
    let failing = true;
    const relay = createRelay({
      db,
      apply: async (e) => {
        if (failing && e.aggregateId !== c) throw new Error('store down');
      },
    });
    await db.query(`UPDATE outbox SET max_retries = 1 WHERE aggregate_id = $1`, [a]);
    expect(await relay.runOnce()).toBe(3);
    let status = await outboxStatus(db);
    expect(status).toMatchObject({ pending: 1, failed: 1, deadLettered: 1 });
    expect(status.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(0);

    await expect(redrive(db, {})).rejects.toBeInstanceOf(ValidationError);
    await expect(redrive(db, { ids: [1.5] })).rejects.toBeInstanceOf(ValidationError);
    expect(await relay.runOnce()).toBe(0); // b waits for its retry, a is dead

    expect(await redrive(db, { deadLettered: true })).toBe(1);
    status = await outboxStatus(db);
    expect(status).toMatchObject({ pending: 2, failed: 1, deadLettered: 0 });
    const rowA = (await outboxRows(db)).find((r) => r.aggregate_id === a)!;
    expect(rowA).toMatchObject({ retry_count: 0, dead: false, last_error: 'Error: store down' });

    expect(await redrive(db, { failed: true })).toBe(1);
    // A processed event is never redriven, even by id.
    const rowC = (await outboxRows(db)).find((r) => r.aggregate_id === c)!;
    expect(await redrive(db, { ids: [rowC.id] })).toBe(0);

    failing = false;
    expect(await relay.runOnce()).toBe(2);
    expect((await outboxRows(db)).every((r) => r.processed && r.last_error === null)).toBe(true);
    expect(await outboxStatus(db)).toMatchObject({
      pending: 0,
      failed: 0,
      deadLettered: 0,
      byEventType: {},
    });
  });

  it('replayOutbox makes processed events pending again', async () => {
    await emitPostEvents(db, randomUUID(), 3);
    const relay = createRelay({ db, apply: async () => {} });
    while ((await relay.runOnce()) > 0);
    expect(await replayOutbox(db)).toBe(3);
    expect((await outboxStatus(db)).pending).toBe(3);
    let n = 0;
    while ((await relay.runOnce()) > 0) n++;
    expect(n).toBe(3);
  });

  it('the claim query uses the partial pending indexes', async () => {
    // Many processed rows and a few pending ones: the shape of a real outbox.
    await db.query(
      `INSERT INTO outbox (aggregate_type, aggregate_id, aggregate_version, event_type, payload, processed_at)
       SELECT 'post', gen_random_uuid(), 1, 'post.updated', '{}'::jsonb, now() FROM generate_series(1, 5000)`,
    );
    await emitPostEvents(db, randomUUID(), 3);
    await db.exec('ANALYZE outbox');
    const { CLAIM_SQL } = await import('../../src/outbox/claim.ts');
    const plan = await db.transaction(async (tx) => {
      const r = await tx.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN ${CLAIM_SQL}`.replace(/\$1/g, '100').replace(/\$2/g, `'w'`).replace(/\$3/g, '30'),
      );
      return r.rows.map((x) => x['QUERY PLAN']).join('\n');
    });
    // The planner picks between the two partial indexes by data shape; either way no full scan.
    expect(plan).toMatch(/outbox_pending_(due|aggregate)_idx/);
    expect(plan).not.toMatch(/Seq Scan on outbox/);
  });
});
