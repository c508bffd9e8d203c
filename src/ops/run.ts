import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { advertiseUrl } from '../datadir/lock.ts';
import { createLogger } from '../observability/logger.ts';
import { createPlatform, type Platform } from '../platform.ts';

/** How long a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 30_000;

/**
 * Closes the platform on SIGTERM / SIGINT (a second signal a second or more after the first,
 * or the grace period, forces the exit).
 */
function closeOnSignals(platform: Platform, already?: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    let stoppingSince = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stoppingSince) {
        // Ctrl-C reaches both npm and node, and npm forwards it: one keypress, two signals.
        if (Date.now() - stoppingSince < 1_000) return;
        platform.log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stoppingSince = Date.now();
      platform.log.info({ signal }, 'shutting down: no new requests, finishing in-flight work');
      setTimeout(() => {
        platform.log.error({ graceMs: SHUTDOWN_GRACE_MS }, 'shutdown took too long: exiting now');
        process.exit(1);
      }, SHUTDOWN_GRACE_MS).unref();
      platform
        .close()
        .then(() => platform.log.info('stopped'))
        .catch((err) => platform.log.error({ err }, 'shutdown failed'))
        .finally(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    if (already) onSignal(already);
  });
}

async function run(mode: { api: boolean; workers: boolean; name: string }): Promise<void> {
  const config = loadConfig(process.env, { issuesTokens: mode.api });
  const log = createLogger(config.logLevel, { process: mode.name });
  // A signal while the stores open is kept, and honoured once they can be closed cleanly.
  let early: NodeJS.Signals | undefined;
  const onEarly = (signal: NodeJS.Signals) => {
    early ??= signal;
  };
  process.on('SIGTERM', onEarly);
  process.on('SIGINT', onEarly);
  let platform: Platform;
  try {
    platform = await createPlatform(config, { api: mode.api, workers: mode.workers, log });
  } finally {
    process.off('SIGTERM', onEarly);
    process.off('SIGINT', onEarly);
  }
  const stopped = closeOnSignals(platform, early);
  if (early) {
    await stopped;
    process.exit(0);
  }
  if (mode.api) {
    let address: string;
    try {
      address = await platform.listen();
    } catch (err) {
      // Leases released and stores closed before the CLI reports it and exits.
      await platform.close();
      throw new Error(`cannot listen on ${config.host}:${config.port} (HOST, PORT)`, {
        cause: err,
      });
    }
    // Runbook commands started beside this server find it here (the data directory's lock).
    if (!config.canonical.url) await advertiseUrl(config.dataDir, address);
    log.info(
      {
        address,
        docs: `${address}/docs`,
        dataDir: config.canonical.url ? undefined : config.dataDir,
      },
      `asora ${mode.name} listening on ${address}`,
    );
  } else {
    log.info('asora work: outbox relay and change-feed processors running');
  }
  await stopped;
  // Stores are closed and the lock released: nothing left worth waiting for.
  process.exit(process.exitCode ?? 0);
}

export function registerRun(program: Command): void {
  program
    .command('start')
    .description(
      'run everything in one process: migrations, API, outbox relay, change-feed processors (npm start)',
    )
    .action(() => run({ api: true, workers: true, name: 'start' }));
  program
    .command('serve')
    .description('run the HTTP API only (scale out: any number of serve and work processes)')
    .action(() => run({ api: true, workers: false, name: 'serve' }));
  program
    .command('work')
    .description('run the outbox relay and the change-feed processors only')
    .action(() => run({ api: false, workers: true, name: 'work' }));
}
