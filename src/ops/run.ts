import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../observability/logger.ts';
import { createPlatform, type Platform } from '../platform.ts';

/** Closes the platform on SIGTERM / SIGINT (a second signal forces the exit). */
function closeOnSignals(platform: Platform): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        platform.log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      platform.log.info({ signal }, 'shutting down: no new requests, finishing in-flight work');
      platform
        .close()
        .then(() => platform.log.info('stopped'))
        .catch((err) => platform.log.error({ err }, 'shutdown failed'))
        .finally(resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

async function run(mode: { api: boolean; workers: boolean; name: string }): Promise<void> {
  const config = loadConfig(process.env, { issuesTokens: mode.api });
  const log = createLogger(config.logLevel, { process: mode.name });
  const platform = await createPlatform(config, { api: mode.api, workers: mode.workers, log });
  const stopped = closeOnSignals(platform);
  if (mode.api) {
    const address = await platform.listen();
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
