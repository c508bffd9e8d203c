import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANY_CHANGE,
  AUTOVACUUM_RULE,
  analyzeStale,
  startAnalyzeSchedule,
} from '../../src/sql/analyze.ts';
import type { Db } from '../../src/sql/db.ts';
import { createPgliteDb } from '../../src/sql/pglite.ts';

// PGlite only: the schedule runs there (a server has autovacuum).
let db: Db;
beforeAll(async () => {
  db = await createPgliteDb();
  await db.exec(`CREATE TABLE big (x int); CREATE TABLE small (x int);
    INSERT INTO big SELECT generate_series(1, 1000); INSERT INTO small VALUES (1), (2)`);
});
afterAll(() => db.close());

const analyzeCount = async (t: string) =>
  (
    await db.query<{ n: number }>(
      `SELECT analyze_count::int AS n FROM pg_stat_user_tables WHERE relname = $1`,
      [t],
    )
  ).rows[0]!.n;

describe('analyzeStale on PGlite (it has no autovacuum)', () => {
  it("analyzes a table once more than autovacuum's threshold of its rows changed, and only then", async () => {
    // Counts written the statement before are seen: the force-flush, not a one-second wait.
    expect(await analyzeStale(db)).toEqual(['public.big']); // 1,000 new rows > 50 + 10%
    expect(await analyzeCount('big')).toBe(1);
    expect(await analyzeStale(db)).toEqual([]); // nothing changed since

    await db.exec('UPDATE big SET x = x + 1 WHERE x <= 140'); // 140 ≤ 50 + 0.1 × 1,000
    expect(await analyzeStale(db)).toEqual([]);
    await db.exec('UPDATE big SET x = x + 1 WHERE x > 980'); // 160 in all: over the threshold
    expect(await analyzeStale(db)).toEqual(['public.big']);
    expect(await analyzeCount('big')).toBe(2);
    expect(await analyzeCount('small')).toBe(0); // 2 rows never reach the threshold
  });

  it('after a bulk load (ANY_CHANGE) analyzes every changed table however small', async () => {
    await db.exec('INSERT INTO small VALUES (3)');
    expect(AUTOVACUUM_RULE.threshold).toBeGreaterThan(3);
    expect(await analyzeStale(db, ANY_CHANGE)).toEqual(['public.small']);
    expect(await analyzeStale(db, ANY_CHANGE)).toEqual([]);
  });

  it('the schedule analyzes a stale table on its next tick and stops cleanly', async () => {
    await db.exec('INSERT INTO big SELECT generate_series(1, 500)');
    const before = await analyzeCount('big');
    const errors: unknown[] = [];
    const schedule = startAnalyzeSchedule(db, 20, (err) => errors.push(err));
    try {
      await expect
        .poll(() => analyzeCount('big'), { timeout: 10_000, interval: 50 })
        .toBeGreaterThan(before);
    } finally {
      await schedule.stop();
    }
    expect(errors).toEqual([]);
  });
});
