import { beforeEach, describe, expect, it } from 'vitest';
import { runOutboxRedrive, runOutboxStatus } from '../../src/ops/outbox.ts';
import type { Output } from '../../src/ops/output.ts';
import { emit } from '../../src/outbox/emit.ts';
import { engineName } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';

const U = '00000000-0000-4000-8000-0000000000c3';

function buffer(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, log: (l) => out.push(l), error: (l) => err.push(l), interactive: false };
}

describe(`outbox runbooks (${engineName})`, () => {
  const s = useCanonicalDb();
  beforeEach(async () => {
    await s.db.exec('TRUNCATE outbox RESTART IDENTITY');
  });

  const emitN = (n: number) =>
    s.db.transaction(async (tx) => {
      for (let i = 0; i < n; i++)
        await emit(tx, { type: 'mute', id: U }, 'mute.removed', { muterId: U, mutedId: U });
    });

  it('status prints counts per state and per event type', async () => {
    await emitN(3);
    await s.db.query(`UPDATE outbox SET retry_count = 2, last_error = 'x' WHERE id = 1`);
    await s.db.query(`UPDATE outbox SET dead_lettered_at = now() WHERE id = 2`);
    const b = buffer();
    await runOutboxStatus(s.db, {}, b);
    const text = b.out.join('\n');
    expect(text).toMatch(/^pending\s+2$/m);
    expect(text).toMatch(/^failed \(retrying\)\s+1$/m);
    expect(text).toMatch(/^dead-lettered\s+1$/m);
    expect(text).toMatch(/^mute\.removed\s+2\s+1\s+1$/m);
    const j = buffer();
    await runOutboxStatus(s.db, { json: true }, j);
    expect(JSON.parse(j.out.join('\n'))).toMatchObject({ pending: 2, failed: 1, deadLettered: 1 });
  });

  it('redrive resets only what was selected and says how many', async () => {
    await emitN(4);
    await s.db.query(
      `UPDATE outbox SET retry_count = 10, dead_lettered_at = now(), last_error = 'boom' WHERE id IN (1, 2)`,
    );
    await s.db.query(
      `UPDATE outbox SET retry_count = 3, next_retry_at = now() + interval '1 hour' WHERE id = 3`,
    );
    await s.db.query(`UPDATE outbox SET processed_at = now() WHERE id = 4`);

    const b = buffer();
    expect(await runOutboxRedrive(s.db, { ids: [1, 4, 99] }, b)).toBe(1);
    expect(b.out[0]).toMatch(/^redrove 1 event\(s\)/);
    expect(b.err[0]).toMatch(/2 of the given ids were not failed or dead-lettered/);

    expect(await runOutboxRedrive(s.db, { deadLettered: true }, buffer())).toBe(1);
    expect(await runOutboxRedrive(s.db, { failed: true }, buffer())).toBe(1);
    const { rows } = await s.db.query<{
      id: number;
      retry_count: number;
      dead: boolean;
      due: boolean;
      processed: boolean;
    }>(
      `SELECT id, retry_count, dead_lettered_at IS NOT NULL AS dead, next_retry_at <= now() AS due,
              processed_at IS NOT NULL AS processed FROM outbox ORDER BY id`,
    );
    expect(rows.map((r) => [r.id, r.retry_count, r.dead, r.due, r.processed])).toEqual([
      [1, 0, false, true, false],
      [2, 0, false, true, false],
      [3, 0, false, true, false],
      [4, 0, false, true, true],
    ]);
    await expect(runOutboxRedrive(s.db, {}, buffer())).rejects.toThrow(/nothing selected/);
  });
});
