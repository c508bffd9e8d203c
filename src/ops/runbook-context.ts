import { pino } from 'pino';
import { connectCanonical } from '../canonical/connect.ts';
import { migrate } from '../canonical/migrations.ts';
import { loadConfig } from '../config/config.ts';
import { Metrics } from '../observability/metrics.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { createProjectionStore } from '../projections/connect.ts';

/**
 * Opens both stores from the environment for a runbook command, runs fn with a pipeline
 * context, and closes everything. Logs go to stderr at warn level so stdout stays the
 * command's own output (tables, JSON).
 */
export async function withRunbookContext<T>(fn: (ctx: PipelineContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const canonical = await connectCanonical(config);
  try {
    // An embedded store that was never started has no schema yet.
    if (!config.canonical.url) await migrate(canonical.db);
    const metrics = new Metrics();
    const store = await createProjectionStore(config, {
      observer: metrics.storeObserver,
      sweepIntervalMs: 0,
    });
    try {
      return await fn({
        db: canonical.db,
        readDb: canonical.readDb,
        store,
        fanoutFollowerThreshold: config.pipeline.fanoutFollowerThreshold,
        feedCap: config.pipeline.feedCap,
        log: pino(
          {
            level: config.logLevel === 'info' ? 'warn' : config.logLevel,
            base: { service: 'asora', component: 'runbook' },
          },
          pino.destination(2),
        ),
        metrics,
      });
    } finally {
      await store.close();
    }
  } finally {
    await canonical.close();
  }
}
