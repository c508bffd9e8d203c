import type { Db } from './db.ts';

/** How often PGlite's statistics are refreshed (it has no autovacuum daemon to do it). */
export const PGLITE_ANALYZE_INTERVAL_MS = 10 * 60_000;

export interface AnalyzeSchedule {
  stop(): Promise<void>;
}

/**
 * Runs ANALYZE on `db` every intervalMs (timer unref'd; a run still going skips a tick).
 * PGlite never auto-analyzes, and plans chosen on stale statistics can scan whole tables.
 */
export function startAnalyzeSchedule(
  db: Db,
  intervalMs: number,
  onError: (err: unknown) => void = () => {},
): AnalyzeSchedule {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = db
      .exec('ANALYZE')
      .catch(onError)
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
