import type { Command } from 'commander';
import { backfillProcessor } from '../changefeed/backfill.ts';
import { listDeadLetters, redriveDeadLetter } from '../changefeed/dead-letter.ts';
import { listLeases } from '../changefeed/lease-store.ts';
import { DEFAULT_PROCESSOR_OPTIONS } from '../changefeed/options.ts';
import { ValidationError } from '../errors.ts';
import { PROCESSOR_NAMES } from '../pipeline/workers.ts';
import type { EmbeddedProjectionStore } from '../projections/connect.ts';
import type { ProjectionStore } from '../projections/port.ts';
import { containerDefs } from '../readmodel/containers.ts';
import { CONTAINERS } from '../readmodel/documents.ts';
import { withStore } from './cosmos.ts';
import { consoleOutput, formatTable, type Output } from './output.ts';

/** The container each pipeline processor reads. */
export const PROCESSOR_CONTAINERS: Record<string, string> = {
  [PROCESSOR_NAMES.fanout]: CONTAINERS.posts,
  [PROCESSOR_NAMES.reactions]: CONTAINERS.reactions,
};

/** The container a processor reads; an unknown name is bad input. */
function containerOf(processor: string): string {
  const c = PROCESSOR_CONTAINERS[processor];
  if (!c) {
    throw new ValidationError(
      `unknown processor ${JSON.stringify(processor)} (one of ${Object.keys(PROCESSOR_CONTAINERS).join(', ')})`,
    );
  }
  return c;
}

/** `--from`: an ISO 8601 time, or undefined for the beginning. */
function parseFrom(from: string | undefined): Date | undefined {
  if (from === undefined) return undefined;
  const start = new Date(from);
  if (Number.isNaN(start.getTime()))
    throw new ValidationError(`--from must be an ISO 8601 time, got '${from}'`);
  return start;
}

/** A container of the app (split/merge), checked before the store opens. */
function knownContainer(name: string): string {
  const names = containerDefs.map((d) => d.name);
  if (!names.includes(name))
    throw new ValidationError(
      `unknown container ${JSON.stringify(name)} (one of ${names.join(', ')})`,
    );
  return name;
}

const leasesOf = (store: ProjectionStore) =>
  store.container(DEFAULT_PROCESSOR_OPTIONS.leaseContainer);

/**
 * `asora changefeed dead-letters`: what the processors gave up on. The run* functions take
 * input the command checked before opening the store.
 */
export async function runDeadLetters(
  store: ProjectionStore,
  processor: string | undefined,
  out: Output,
) {
  const dls = await listDeadLetters(leasesOf(store), processor);
  if (dls.length === 0) return out.log('no dead letters');
  out.log(
    formatTable(
      ['id', 'processor', 'container', 'item', 'partition key', 'attempts', 'recorded', 'error'],
      dls.map((d) => [
        d.id,
        d.deadLetterOf,
        d.container,
        d.itemId,
        d.partitionKey,
        d.attempts,
        d.recordedAt,
        d.error.slice(0, 80),
      ]),
    ),
  );
}

/** `asora changefeed redrive`: puts dead-lettered changes back on their change feed. */
export async function runRedrive(
  store: ProjectionStore,
  sel: { ids?: string[]; all?: boolean; processor?: string },
  out: Output,
): Promise<number> {
  const dls = (await listDeadLetters(leasesOf(store), sel.processor)).filter(
    (d) => sel.all || sel.ids?.includes(d.id),
  );
  const unknown = (sel.ids ?? []).filter((id) => !dls.some((d) => d.id === id));
  if (unknown.length > 0) throw new ValidationError(`no such dead letter: ${unknown.join(', ')}`);
  for (const d of dls) {
    const outcome = await redriveDeadLetter(store, leasesOf(store), d);
    out.log(
      `${d.id}: ${outcome === 'redriven' ? `${d.container}/${d.itemId} is on the change feed again` : `${d.container}/${d.itemId} no longer exists; dead letter dropped`}`,
    );
  }
  out.log(`redriven ${dls.length} dead letter(s)`);
  return dls.length;
}

/** `asora changefeed backfill <processor>`: replay a processor's feed from the beginning or a time. */
export async function runBackfill(
  store: ProjectionStore,
  processor: string,
  start: Date | undefined,
  out: Output,
) {
  const container = containerOf(processor);
  const ids = await backfillProcessor(
    leasesOf(store),
    store.container(container),
    processor,
    start,
  );
  out.log(
    `${processor}: ${ids.length} lease(s) reset to read ${container} from ${start ? start.toISOString() : 'the beginning'}`,
  );
}

/** `asora changefeed ranges`: every container's feed ranges and each processor's leases. */
export async function runRanges(store: ProjectionStore, out: Output) {
  for (const [processor, container] of Object.entries(PROCESSOR_CONTAINERS)) {
    const ranges = await store.container(container).feedRanges();
    const leases = await listLeases(leasesOf(store), processor, container);
    out.log(`${container}: ${ranges.length} feed range(s): ${ranges.map((r) => r.id).join(', ')}`);
    out.log(
      formatTable(
        ['lease', 'range', 'owner', 'checkpointed'],
        leases.map((l) => [
          l.id,
          `[${l.min ?? '?'}, ${l.max ?? '?'})`,
          l.owner ?? '-',
          l.continuation ? 'yes' : 'no',
        ]),
      ),
    );
  }
}

function embeddedOnly(store: ProjectionStore) {
  if (store.kind !== 'embedded') {
    throw new ValidationError(
      'Cosmos DB splits and merges partitions itself (storage or throughput changes); the processors follow. This command re-shapes the embedded store only.',
    );
  }
  return store as EmbeddedProjectionStore;
}

/** `asora changefeed ...`: dead letters, backfill, feed ranges (and live split/merge on the embedded store). */
export function registerChangefeed(program: Command, out: Output = consoleOutput): void {
  const cf = program
    .command('changefeed')
    .description('change-feed processors: dead letters, backfill, feed ranges');
  cf.command('dead-letters')
    .description('list changes a processor gave up on after its batch retries')
    .option(
      '--processor <name>',
      `only this processor (${Object.keys(PROCESSOR_CONTAINERS).join(', ')})`,
    )
    .action((o: { processor?: string }) => {
      if (o.processor !== undefined) containerOf(o.processor);
      return withStore((s) => runDeadLetters(s, o.processor, out));
    });
  cf.command('redrive')
    .description(
      'put dead-lettered changes back on their change feed (the item is rewritten unchanged)',
    )
    .argument('[ids...]', 'dead-letter ids (from `asora changefeed dead-letters`)')
    .option('--all', 'every dead letter (of --processor when given)')
    .option('--processor <name>', 'only this processor')
    .action(async (ids: string[], o: { all?: boolean; processor?: string }) => {
      if (ids.length === 0 && !o.all)
        throw new ValidationError('nothing selected: pass dead-letter ids or --all');
      if (o.processor !== undefined) containerOf(o.processor);
      await withStore(
        async (s) => void (await runRedrive(s, { ids, all: o.all, processor: o.processor }, out)),
      );
    });
  cf.command('backfill')
    .description(
      'replay a processor from the beginning (or --from a time): its leases restart there',
    )
    .argument('<processor>', Object.keys(PROCESSOR_CONTAINERS).join(' | '))
    .option('--from <time>', 'ISO 8601 time to start from instead of the beginning')
    .action((processor: string, o: { from?: string }) => {
      containerOf(processor);
      const start = parseFrom(o.from);
      return withStore((s) => runBackfill(s, processor, start, out));
    });
  cf.command('ranges')
    .description("list feed ranges and each processor's leases")
    .action(() => withStore((s) => runRanges(s, out)));
  cf.command('split')
    .description('embedded store: split one feed range live (as Cosmos DB splits a partition)')
    .argument('<container>')
    .argument('<range>', 'range id from `asora changefeed ranges`')
    .action((container: string, range: string) => {
      knownContainer(container);
      return withStore(async (s) => {
        const children = await embeddedOnly(s).splitFeedRange(container, range);
        out.log(`${container}: ${range} split into ${children.map((c) => c.id).join(' and ')}`);
      });
    });
  cf.command('merge')
    .description('embedded store: merge two adjacent feed ranges live')
    .argument('<container>')
    .argument('<range-a>')
    .argument('<range-b>')
    .action((container: string, a: string, b: string) => {
      knownContainer(container);
      return withStore(async (s) => {
        const merged = await embeddedOnly(s).mergeFeedRanges(container, a, b);
        out.log(`${container}: ${a} and ${b} merged into ${merged.id}`);
      });
    });
}
