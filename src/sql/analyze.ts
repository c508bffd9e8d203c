import { every, type Periodic } from '../lib/periodic.ts';
import type { Db } from './db.ts';

/**
 * How often PGlite's statistics are checked (it has no autovacuum daemon to do it); the
 * check costs milliseconds (bench/RESULTS.md section h), so it runs as often as autovacuum wakes
 * (autovacuum_naptime).
 */
export const PGLITE_ANALYZE_INTERVAL_MS = 60_000;

/**
 * When a table's statistics are stale: more than `threshold + scaleFactor × rows` rows
 * changed since its last ANALYZE, with autovacuum's defaults (autovacuum_analyze_threshold,
 * autovacuum_analyze_scale_factor). Rows are pg_class.reltuples, which survives a restart;
 * PGlite's change counts do not, so changes not yet past the rule when it stops are
 * forgotten (as autovacuum forgets them after a crash).
 */
export interface StaleRule {
  threshold: number;
  scaleFactor: number;
}

export const AUTOVACUUM_RULE: StaleRule = { threshold: 50, scaleFactor: 0.1 };

/** Every table changed since its last ANALYZE (after a bulk load). */
export const ANY_CHANGE: StaleRule = { threshold: 0, scaleFactor: 0 };

/**
 * ANALYZEs the tables whose statistics are stale under `rule`, one statement per table,
 * and returns their names. One statement per table because PGlite runs one statement at a
 * time: a request waits at most for one table's ANALYZE, not for the whole database's
 * (3.5–4.8 s on a 10,000-user seed, bench/RESULTS.md section h).
 */
export async function analyzeStale(db: Db, rule: StaleRule = AUTOVACUUM_RULE): Promise<string[]> {
  // PGlite's one backend publishes its change counts at a statement's end, at most once a
  // second; this makes the next end publish them (a server's idle backends do within 1 s).
  if (db.engine === 'pglite') await db.exec('SELECT pg_stat_force_next_flush()');
  const { rows } = await db.query<{ t: string }>(
    `SELECT format('%I.%I', s.schemaname, s.relname) AS t
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      WHERE s.n_mod_since_analyze > $1::float8 + $2::float8 * greatest(c.reltuples, 0)
      ORDER BY 1`,
    [rule.threshold, rule.scaleFactor],
  );
  for (const { t } of rows) await db.exec(`ANALYZE ${t}`);
  return rows.map((r) => r.t);
}

export type AnalyzeSchedule = Periodic;

/**
 * Runs analyzeStale on `db` every intervalMs (timer unref'd; a run still going skips a
 * tick). PGlite never auto-analyzes, and plans chosen on stale statistics can scan whole
 * tables; a table nobody writes is not analyzed again.
 */
export function startAnalyzeSchedule(
  db: Db,
  intervalMs: number,
  onError: (err: unknown) => void = () => {},
): AnalyzeSchedule {
  return every(intervalMs, () => analyzeStale(db), onError);
}
