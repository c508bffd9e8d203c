import type { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { loadConfig } from '../config/config.ts';
import { ValidationError } from '../errors.ts';
import {
  type OutboxStatus,
  outboxStatus,
  type RedriveSelection,
  redrive,
} from '../outbox/status.ts';
import type { Db } from '../sql/db.ts';
import { liveServer, throughNote } from './live-server.ts';
import { consoleOutput, formatTable, type Output } from './output.ts';

/** `asora outbox status`: the seed's backlog query as a table (or JSON). */
export async function runOutboxStatus(
  db: Db,
  opts: { json?: boolean },
  out: Output,
): Promise<void> {
  printOutboxStatus(await outboxStatus(db), opts, out);
}

export function printOutboxStatus(s: OutboxStatus, opts: { json?: boolean }, out: Output): void {
  if (opts.json) {
    out.log(JSON.stringify(s, null, 2));
    return;
  }
  out.log(
    formatTable(
      ['outbox', 'count'],
      [
        ['pending', s.pending],
        ['failed (retrying)', s.failed],
        ['dead-lettered', s.deadLettered],
        ['oldest pending age (s)', s.oldestPendingAgeSeconds.toFixed(1)],
      ],
    ),
  );
  const types = Object.entries(s.byEventType);
  if (types.length > 0) {
    out.log('');
    out.log(
      formatTable(
        ['event type', 'pending', 'failed', 'dead-lettered'],
        types.map(([t, c]) => [t, c.pending, c.failed, c.deadLettered]),
      ),
    );
  }
}

/** Parses `--id` values: positive integers only (a typo must not redrive something else). */
export function parseIds(values: string[] | undefined): number[] {
  return (values ?? []).map((v) => {
    if (!/^[1-9]\d{0,17}$/.test(v.trim()))
      throw new ValidationError(`--id must be a positive integer, got '${v}'`);
    return Number(v);
  });
}

/** `asora outbox redrive`: selected failed / dead-lettered events become due again. */
export async function runOutboxRedrive(
  db: Db,
  sel: RedriveSelection,
  out: Output,
): Promise<number> {
  if (!sel.deadLettered && !sel.failed && !(sel.ids && sel.ids.length > 0)) {
    throw new ValidationError(
      'nothing selected: pass --dead-lettered, --failed and/or --id <id...>',
    );
  }
  const n = await redrive(db, sel);
  printRedrive(sel, n, out);
  return n;
}

export function printRedrive(sel: RedriveSelection, n: number, out: Output): void {
  const what = [
    sel.deadLettered && 'dead-lettered',
    sel.failed && 'failed',
    sel.ids?.length && `ids ${sel.ids.join(',')}`,
  ]
    .filter(Boolean)
    .join(', ');
  out.log(`redrove ${n} event(s) (${what}); the relay picks them up on its next poll`);
  const onlyIds = !sel.deadLettered && !sel.failed;
  if (onlyIds && sel.ids && n < sel.ids.length) {
    out.error(
      `note: ${sel.ids.length - n} of the given ids were not failed or dead-lettered (processed, still pending, or unknown)`,
    );
  }
}

async function withCanonical<T>(config: Config, fn: (db: Db) => Promise<T>): Promise<T> {
  // Loaded here: a command that runs through a live server never opens a store.
  const { connectCanonical } = await import('../canonical/connect.ts');
  const { migrate } = await import('../canonical/migrations.ts');
  const { db, close } = await connectCanonical(config);
  try {
    // An embedded store that was never started has no schema yet.
    if (!config.canonical.url) await migrate(db);
    return await fn(db);
  } finally {
    await close();
  }
}

export function registerOutbox(program: Command, out: Output = consoleOutput): void {
  const outbox = program
    .command('outbox')
    .description('inspect and recover the transactional outbox');
  outbox
    .command('status')
    .description('pending, failed, dead-lettered counts, oldest pending age, per event type')
    .option('--json', 'print JSON instead of tables')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const server = await liveServer(config, 'canonical');
      if (!server) return withCanonical(config, (db) => runOutboxStatus(db, opts, out));
      out.error(throughNote(server));
      const r = await server.call<{ status: OutboxStatus }>('GET', '/ops/api/outbox');
      printOutboxStatus(r.status, opts, out);
    });
  outbox
    .command('redrive')
    .description(
      'make failed and/or dead-lettered events due now with a fresh retry budget (backlog recovery)',
    )
    .option('--dead-lettered', 'every dead-lettered event')
    .option('--failed', 'every pending event that has failed at least once')
    .option('--id <id...>', 'these event ids (if failed or dead-lettered)')
    .addHelpText(
      'after',
      '\nExamples:\n  asora outbox redrive --dead-lettered\n  asora outbox redrive --id 1042 1043',
    )
    .action(async (opts: { deadLettered?: boolean; failed?: boolean; id?: string[] }) => {
      const sel: RedriveSelection = {
        deadLettered: opts.deadLettered,
        failed: opts.failed,
        ids: parseIds(opts.id),
      };
      // Validate before opening any database.
      if (!sel.deadLettered && !sel.failed && sel.ids!.length === 0) {
        throw new ValidationError(
          'nothing selected: pass --dead-lettered, --failed and/or --id <id...>',
        );
      }
      const config = loadConfig();
      const server = await liveServer(config, 'canonical');
      if (!server)
        return void (await withCanonical(config, (db) => runOutboxRedrive(db, sel, out)));
      out.error(throughNote(server));
      const r = await server.call<{ redriven: number }>('POST', '/ops/api/outbox/redrive', sel);
      printRedrive(sel, r.redriven, out);
    });
}
