import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { asUser, asWorker } from '../../src/canonical/session.ts';
import { emit, emitBatch } from '../../src/outbox/emit.ts';
import { OUTBOX_CHANNEL } from '../../src/outbox/relay.ts';
import { insertUser } from '../support/canon.ts';
import { engineName } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';
import { dbNow, outboxRows } from './support.ts';

/** emitBatch (emit_events, 0012): many events in one statement, with emit_event's contract. */
describe(`bulk emit (${engineName})`, () => {
  const s = useCanonicalDb({ reset: 'each' });

  it('gives each aggregate its next versions in input order, ids in input order', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const first = await s.db.transaction((tx) =>
      emit(tx, { type: 'post', id: a }, 'post.updated', { n: 0 }),
    );
    const events = await asWorker(s.db, (tx) =>
      emitBatch(tx, 'post', 'post.updated', [
        { id: a, payload: { n: 1 } },
        { id: b, payload: { n: 2 } },
        { id: a, payload: { n: 3 } },
      ]),
    );
    expect(events.map((e) => e.version)).toEqual([2, 1, 3]);
    const ids = events.map((e) => e.id);
    expect(ids[0]).toBeGreaterThan(first);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    const rows = await outboxRows(s.db);
    expect(rows.map((r) => [r.aggregate_id, Number(r.aggregate_version)])).toEqual([
      [a, 1],
      [a, 2],
      [b, 1],
      [a, 3],
    ]);
    const { rows: payloads } = await s.db.query<{ p: unknown }>(
      'SELECT payload AS p FROM outbox ORDER BY id',
    );
    expect(payloads.map((r) => r.p)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
    // A later single emit continues the same sequence.
    await s.db.transaction((tx) => emit(tx, { type: 'post', id: a }, 'post.updated', { n: 4 }));
    expect(Number((await outboxRows(s.db)).at(-1)!.aggregate_version)).toBe(4);
  });

  it('wakes the relay once per committed transaction, however many events it emitted (0013)', async () => {
    const wakeups: string[] = [];
    const unlisten = await s.db.listen(OUTBOX_CHANNEL, (payload) => wakeups.push(payload));
    try {
      const a = randomUUID();
      await s.db.transaction(async (tx) => {
        for (let n = 0; n < 3; n++) await emit(tx, { type: 'post', id: a }, 'post.updated', { n });
      });
      await asWorker(s.db, (tx) =>
        emitBatch(tx, 'post', 'post.updated', [{ id: a, payload: { n: 3 } }]),
      );
      // Notifications arrive in commit order: once the second transaction's is in, the
      // first's have all arrived (three before 0013).
      await vi.waitFor(() => expect(wakeups.length).toBeGreaterThanOrEqual(2), { timeout: 5000 });
      await new Promise((r) => setTimeout(r, 50));
      expect(wakeups).toEqual(['', '']);
    } finally {
      await unlisten();
    }
  });

  it('holds events back from the relay when asked, and leaves nothing behind on rollback', async () => {
    const before = await dbNow(s.db);
    const [held] = await asWorker(s.db, (tx) =>
      emitBatch(tx, 'post', 'post.updated', [{ id: randomUUID(), payload: {} }], {
        holdSeconds: 3600,
      }),
    );
    const [due] = await asWorker(s.db, (tx) =>
      emitBatch(tx, 'post', 'post.updated', [{ id: randomUUID(), payload: {} }]),
    );
    const at = new Map((await outboxRows(s.db)).map((r) => [r.id, r.next_retry_at.getTime()]));
    expect(at.get(held!.id)! - before.getTime()).toBeGreaterThan(3590_000);
    expect(at.get(due!.id)!).toBeLessThanOrEqual((await dbNow(s.db)).getTime());

    const agg = randomUUID();
    await expect(
      asWorker(s.db, async (tx) => {
        await emitBatch(tx, 'post', 'post.updated', [{ id: agg, payload: {} }]);
        throw new Error('batch failed');
      }),
    ).rejects.toThrow('batch failed');
    const { rows } = await s.db.query<{ n: number }>(
      'SELECT (SELECT count(*) FROM outbox WHERE aggregate_id = $1)::int + (SELECT count(*) FROM aggregate_versions WHERE aggregate_id = $1)::int AS n',
      [agg],
    );
    expect(rows[0]!.n).toBe(0);
  });

  it('refuses bad input with a clear error, and is not the application role’s to call', async () => {
    await expect(
      asWorker(s.db, (tx) =>
        tx.query(`SELECT * FROM emit_events('post', $1::uuid[], 'post.updated', $2::jsonb[])`, [
          [randomUUID(), randomUUID()],
          ['{}'],
        ]),
      ),
    ).rejects.toThrow(/2 aggregate ids but 1 payloads/);
    await expect(
      asWorker(s.db, (tx) =>
        emitBatch(tx, 'post', 'post.updated', [{ id: randomUUID(), payload: {} }], {
          holdSeconds: -1,
        }),
      ),
    ).rejects.toThrow(/hold must be 0 or more seconds/);
    expect(await asWorker(s.db, (tx) => emitBatch(tx, 'post', 'post.updated', []))).toEqual([]);

    const user = await insertUser(s.db, { email: 'emitter@example.com', profile: false });
    await expect(
      asUser(s.db, user, (tx) =>
        emitBatch(tx, 'post', 'post.updated', [{ id: randomUUID(), payload: { forged: true } }]),
      ),
    ).rejects.toThrow(/permission denied/);
    expect(await outboxRows(s.db)).toEqual([]);
  });
});
