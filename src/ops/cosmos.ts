import type { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { createProjectionStore, describeProjectionStore } from '../projections/connect.ts';
import { isProjectionError } from '../projections/port.ts';
import { containerDefs, sharedAutoscaleMaxThroughput } from '../readmodel/containers.ts';

export type OpenedStore = Awaited<ReturnType<typeof createProjectionStore>>;

/**
 * Opens the configured store (no sweeper) and runs fn; a store failure is reported as
 * one line naming the store, with exit code 1.
 */
export async function withStore(
  fn: (store: OpenedStore, where: string) => Promise<void>,
): Promise<void> {
  const config = loadConfig();
  const where = describeProjectionStore(config);
  try {
    const store = await createProjectionStore(config, {
      definitions: containerDefs,
      sharedAutoscaleMaxThroughput,
      sweepIntervalMs: 0,
      // The runbooks build indexes themselves, waiting, and report them.
      buildIndexesAtStart: false,
    });
    try {
      await fn(store, where);
    } finally {
      await store.close();
    }
  } catch (err) {
    if (!isProjectionError(err)) throw err;
    console.error(`error: ${where}: ${err.message}`);
    process.exitCode = 1;
  }
}

/**
 * `asora cosmos provision | update-indexes`: creates the projection containers from
 * database/cosmos/containers.json, or brings their indexing policies up to date. On the
 * embedded store the same definitions become tables and expression indexes. Idempotent.
 */
export function registerCosmos(program: Command): void {
  const cosmos = program
    .command('cosmos')
    .description(
      'projection store (Cosmos DB when COSMOS_ENDPOINT is set, else the embedded store): provisioning',
    );

  cosmos
    .command('provision')
    .description(
      'create the database, containers (partition key, TTL, indexing policy) or tables/indexes that are missing',
    )
    .action(() =>
      withStore(async (store, where) => {
        await store.provision();
        const names = store.definitions().map((d) => d.name);
        console.log(`${where}: provisioned ${names.length} containers (${names.join(', ')})`);
      }),
    );

  cosmos
    .command('update-indexes')
    .description('replace each container indexing policy (and TTL) with the one in containers.json')
    .action(() =>
      withStore(async (store, where) => {
        if (store.kind === 'cosmos') {
          const done = await store.updateIndexes();
          console.log(
            `${where}: indexing policies updated for ${done.length} containers (${done.join(', ')})`,
          );
        } else {
          const r = await store.updateIndexes();
          console.log(
            `${where}: indexes up to date (created ${r.created.length}${r.created.length ? `: ${r.created.join(', ')}` : ''}; dropped ${r.dropped.length}${r.dropped.length ? `: ${r.dropped.join(', ')}` : ''})`,
          );
        }
      }),
    );

  cosmos
    .command('update-throughput')
    .description(
      'set each container autoscale maximum (and the shared database one) to the RU/s in containers.json',
    )
    .action(() =>
      withStore(async (store, where) => {
        if (store.kind !== 'cosmos') {
          console.log(`${where}: throughput is a Cosmos DB setting; nothing to change`);
          return;
        }
        for (const c of await store.updateThroughput()) {
          console.log(
            `${c.target}: autoscale max ${c.before === null ? 'unset' : `${c.before}`} -> ${c.after} RU/s`,
          );
        }
      }),
    );
}
