import { every, type Periodic } from '../lib/periodic.ts';
import type { Db } from './db.ts';

/** How often PGlite's statistics are refreshed (it has no autovacuum daemon to do it). */
export const PGLITE_ANALYZE_INTERVAL_MS = 10 * 60_000;

export type AnalyzeSchedule = Periodic;

/**
 * Runs ANALYZE on `db` every intervalMs (timer unref'd; a run still going skips a tick).
 * PGlite never auto-analyzes, and plans chosen on stale statistics can scan whole tables.
 */
export function startAnalyzeSchedule(
  db: Db,
  intervalMs: number,
  onError: (err: unknown) => void = () => {},
): AnalyzeSchedule {
  return every(intervalMs, () => db.exec('ANALYZE'), onError);
}
