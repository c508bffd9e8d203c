import type { Command } from 'commander';
import { archiveAudit } from '../archive/audit.ts';
import { createObjectStore } from '../archive/connect.ts';
import { parseAge } from '../archive/format.ts';
import { archivePosts, restorePost } from '../archive/posts.ts';
import { withRunbookContext } from '../composition.ts';
import { loadConfig } from '../config/config.ts';
import { ValidationError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { consoleOutput, type Output } from './output.ts';

const batchOption = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 50_000)
    throw new ValidationError('--batch must be an integer from 1 to 50000');
  return n;
};

/** `asora archive posts|audit --older-than <age>` and `asora archive restore <postId>`. */
export function registerArchive(program: Command, out: Output = consoleOutput): void {
  const archive = program
    .command('archive')
    .description(
      'move old posts and audit entries to cold storage (Azure Blob or DATA_DIR/archive), or bring a post back',
    );
  const open = () => createObjectStore(loadConfig());

  for (const kind of ['posts', 'audit'] as const) {
    archive
      .command(kind)
      .description(
        kind === 'posts'
          ? 'archive posts created before now minus <age>: out of posts_v2, feeds and discovery; still readable by id and in the export'
          : 'archive audit_log entries created before now minus <age> (deleted from the table once stored)',
      )
      .requiredOption('--older-than <age>', 'age such as 365d or 12h')
      .option('--batch <n>', 'rows per batch (one file per month per batch)')
      .addHelpText(
        'after',
        `\nExample:\n  asora archive ${kind} --older-than ${kind === 'posts' ? '365d' : '90d'}`,
      )
      .action(async (opts: { olderThan: string; batch?: string }) => {
        const age = parseAge(opts.olderThan);
        const batchSize = opts.batch === undefined ? undefined : batchOption(opts.batch);
        const objects = open();
        await withRunbookContext(async (ctx) => {
          const before = new Date(Date.now() - age);
          const run = kind === 'posts' ? archivePosts : archiveAudit;
          const r = await run({ db: ctx.db, objects }, { before, batchSize });
          out.log(
            `archived ${r.items} ${kind === 'posts' ? 'post(s)' : 'audit entries'} created before ${before.toISOString()} into ${r.files.length} file(s) at ${objects.location}`,
          );
        });
      });
  }

  archive
    .command('restore')
    .description(
      'bring an archived post back: text into canonical, projections rebuilt by the relay',
    )
    .argument('<postId>', 'the archived post (UUID)')
    .action(async (postId: string) => {
      if (!isUuid(postId)) throw new ValidationError(`postId must be a UUID, got '${postId}'`);
      const objects = open();
      await withRunbookContext(async (ctx) => {
        const s = await restorePost({ db: ctx.db, objects }, postId);
        out.log(
          `restored post ${s.id} (version ${s.version}); the relay puts it back in posts_v2 and feeds`,
        );
      });
    });
}
