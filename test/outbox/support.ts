import { randomUUID } from 'node:crypto';
import type { PostSnapshot } from '../../src/events/catalogue.ts';
import { emit } from '../../src/outbox/emit.ts';
import type { OutboxEvent } from '../../src/outbox/event.ts';
import type { Db } from '../../src/sql/db.ts';

/** Emits `n` post.updated events for one aggregate in separate transactions (as the domain would). */
export async function emitPostEvents(db: Db, postId: string, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let v = 1; v <= n; v++) {
    const snap: PostSnapshot = {
      id: postId,
      authorId: randomUUID(),
      text: `v${v}`,
      tags: [],
      status: 'published',
      version: v,
      createdAt: new Date(0).toISOString(),
      updatedAt: new Date(0).toISOString(),
    };
    ids.push(
      await db.transaction((tx) => emit(tx, { type: 'post', id: postId }, 'post.updated', snap)),
    );
  }
  return ids;
}

export interface OutboxRowView {
  id: number;
  aggregate_id: string;
  aggregate_version: number;
  processed: boolean;
  retry_count: number;
  next_retry_at: Date;
  last_error: string | null;
  dead: boolean;
  claimed_by: string | null;
}

export async function outboxRows(db: Db): Promise<OutboxRowView[]> {
  const { rows } = await db.query<OutboxRowView>(
    `SELECT id, aggregate_id::text, aggregate_version, processed_at IS NOT NULL AS processed, retry_count,
            next_retry_at, last_error, dead_lettered_at IS NOT NULL AS dead, claimed_by
       FROM outbox ORDER BY id`,
  );
  return rows;
}

export const dbNow = async (db: Db) =>
  (await db.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;

/** Makes every waiting retry due now ("moves the clock" without waiting). */
export const makeRetriesDue = (db: Db) =>
  db.query(
    `UPDATE outbox SET next_retry_at = now() - interval '1 second' WHERE processed_at IS NULL`,
  );

/** Records what an apply function saw, and fails if two events of one aggregate overlap. */
export class ApplyRecorder {
  readonly applied: OutboxEvent[] = [];
  readonly overlaps: string[] = [];
  private readonly inFlight = new Set<string>();

  apply = async (e: OutboxEvent, delayMs = 0): Promise<void> => {
    const key = `${e.aggregateType}:${e.aggregateId}`;
    if (this.inFlight.has(key)) this.overlaps.push(`${key} v${e.aggregateVersion}`);
    this.inFlight.add(key);
    try {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      this.applied.push(e);
    } finally {
      this.inFlight.delete(key);
    }
  };

  versionsOf(aggregateId: string): number[] {
    return this.applied.filter((e) => e.aggregateId === aggregateId).map((e) => e.aggregateVersion);
  }
}

export async function waitFor(
  cond: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  stepMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
