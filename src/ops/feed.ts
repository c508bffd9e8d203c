import type { Command } from 'commander';
import { asWorker } from '../canonical/session.ts';
import { liveUserIds } from '../canonical/tables/users.ts';
import { withRunbookContext } from '../composition.ts';
import { loadConfig } from '../config/config.ts';
import { ValidationError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { forEachLimited } from '../lib/concurrency.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { type RegenerateResult, regenerateUserFeed } from '../pipeline/regenerate-feed.ts';
import { liveServer, throughNote } from './live-server.ts';
import { consoleOutput, type Output } from './output.ts';
import { progress } from './progress.ts';

export interface FeedRebuildSummary {
  users: number;
  written: number;
  deleted: number;
  unchanged: number;
  failed: { userId: string; error: string }[];
}

const describe = (r: RegenerateResult) =>
  `${r.userId}: ${r.wanted} item(s) wanted, ${r.written} written, ${r.deleted} deleted, ${r.unchanged} unchanged`;

/** `asora feed rebuild <userId>`: one feed from canonical data (NotFoundError for an unknown user). */
export async function rebuildOne(
  ctx: PipelineContext,
  userId: string,
  out: Output,
): Promise<RegenerateResult> {
  if (!isUuid(userId)) throw new ValidationError(`userId must be a UUID, got '${userId}'`);
  const r = await regenerateUserFeed(ctx, userId);
  out.log(describe(r));
  return r;
}

/** `asora feed rebuild --all`: every live user's feed, with a progress bar; failures are listed, not fatal. */
export async function rebuildAll(
  ctx: PipelineContext,
  out: Output,
  opts: { concurrency?: number } = {},
): Promise<FeedRebuildSummary> {
  const ids = await asWorker(ctx.db, (tx) => liveUserIds(tx));
  const sum: FeedRebuildSummary = { users: 0, written: 0, deleted: 0, unchanged: 0, failed: [] };
  const bar = progress(out, 'feeds', ids.length);
  try {
    await forEachLimited(ids, opts.concurrency ?? 4, async (userId) => {
      try {
        const r = await regenerateUserFeed(ctx, userId);
        sum.written += r.written;
        sum.deleted += r.deleted;
        sum.unchanged += r.unchanged;
      } catch (err) {
        sum.failed.push({ userId, error: err instanceof Error ? err.message : String(err) });
      }
      sum.users++;
      bar.increment();
    });
  } finally {
    bar.stop();
  }
  printRebuildAll(sum, out);
  return sum;
}

export function printRebuildAll(sum: FeedRebuildSummary, out: Output): void {
  out.log(
    `rebuilt ${sum.users - sum.failed.length} of ${sum.users} feed(s): ${sum.written} item(s) written, ${sum.deleted} deleted, ${sum.unchanged} unchanged`,
  );
  for (const f of sum.failed) out.error(`failed: ${f.userId}: ${f.error}`);
}

export function registerFeed(program: Command, out: Output = consoleOutput): void {
  const feed = program.command('feed').description('userFeed runbooks');
  feed
    .command('rebuild')
    .description(
      "rebuild one user's feed (or every user's) from canonical follows, blocks, mutes and posts",
    )
    .argument('[userId]', 'the user whose feed to rebuild (UUID)')
    .option('--all', "rebuild every live user's feed")
    .option('--concurrency <n>', 'feeds rebuilt in parallel with --all', '4')
    .addHelpText(
      'after',
      '\nExamples:\n  asora feed rebuild 6f1c2a7e-3c1b-4f7e-9a55-1b2c3d4e5f60\n  asora feed rebuild --all',
    )
    .action(async (userId: string | undefined, opts: { all?: boolean; concurrency: string }) => {
      // Every input check happens before any store is opened.
      if (opts.all && userId) throw new ValidationError('pass either a userId or --all, not both');
      if (!opts.all && !userId) throw new ValidationError('pass a userId or --all');
      if (userId && !isUuid(userId))
        throw new ValidationError(`userId must be a UUID, got '${userId}'`);
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
        throw new ValidationError('--concurrency must be an integer from 1 to 64');
      }
      const server = await liveServer(loadConfig(), 'both');
      if (server) {
        out.error(throughNote(server));
        const r = await server.call<{ one?: RegenerateResult; all?: FeedRebuildSummary }>(
          'POST',
          '/ops/api/feed/rebuild',
          userId ? { userId } : { all: true, concurrency },
        );
        if (r.one) out.log(describe(r.one));
        if (r.all) {
          printRebuildAll(r.all, out);
          if (r.all.failed.length > 0) process.exitCode = 1;
        }
        return;
      }
      await withRunbookContext(async (ctx) => {
        if (userId) {
          await rebuildOne(ctx, userId, out);
          return;
        }
        const sum = await rebuildAll(ctx, out, { concurrency });
        if (sum.failed.length > 0) process.exitCode = 1;
      });
    });
}
