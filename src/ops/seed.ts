import type { Command } from 'commander';
import { migrate } from '../canonical/migrations.ts';
import { withRunbookContext } from '../composition.ts';
import { ValidationError } from '../errors.ts';
import { markDelivered } from '../outbox/hold.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { ANY_CHANGE, analyzeStale } from '../sql/analyze.ts';
import { consoleOutput, type Output } from './output.ts';
import { progress } from './progress.ts';
import { chunks, type SeedOptions, type SeedResult, seedGraph } from './seed/graph.ts';
import { buildSeedProjections } from './seed/projections.ts';

export type { SeedOptions, SeedResult } from './seed/graph.ts';

/**
 * How long the seeded events are held back from the relay: the seed builds their
 * projections in bulk meanwhile and then marks them delivered. Only a seed that dies
 * midway lets the hold run out; the relay then applies them one by one (nothing lost).
 */
export const SEED_HOLD_SECONDS = 3600;

export interface SeedRun extends SeedResult {
  /** Seconds for the canonical rows (with their events) and for the projections. */
  canonicalSeconds: number;
  projectionSeconds: number;
  /** Of each projection phase's seconds, those spent in the store's bulk writes. */
  storeSeconds: Record<string, number>;
}

/**
 * `asora seed`: canonical rows and their outbox events in multi-row batches, then (unless
 * `projections` is false) every projection built in bulk from canonical and the events
 * marked delivered. The events stay in the outbox as the record of what happened; a
 * replay of them (`outbox redrive`, a lost hold) finds every projection current, since
 * the bulk writes and the handlers are version-guarded the same way.
 */
export async function seed(
  ctx: PipelineContext,
  opts: Omit<SeedOptions, 'holdSeconds'> & { projections: boolean },
  out: Output = consoleOutput,
): Promise<SeedRun> {
  const started = Date.now();
  const r = await seedGraph(
    ctx.db,
    { ...opts, holdSeconds: opts.projections ? SEED_HOLD_SECONDS : 0 },
    out,
  );
  // Fresh statistics for the bulk-loaded tables before the reads that plan on them
  // (PGlite never auto-analyzes).
  const analyzing = Date.now();
  await ctx.db.exec('ANALYZE');
  r.seconds.analyze = (Date.now() - analyzing) / 1000;
  const canonicalSeconds = (Date.now() - started) / 1000;
  if (!opts.projections) return { ...r, canonicalSeconds, projectionSeconds: 0, storeSeconds: {} };

  const built = await buildSeedProjections(ctx, r, out);
  Object.assign(r.seconds, built.seconds);
  const marking = Date.now();
  const bar = progress(out, 'events      ', r.eventIds.length);
  for (const ids of chunks(r.eventIds, 10_000)) {
    await markDelivered(ctx.db, ids);
    bar.increment(ids.length);
  }
  bar.stop();
  r.seconds.events = (Date.now() - marking) / 1000;
  // The projections and the outbox changed since; canonical did not.
  const reanalyzing = Date.now();
  await analyzeStale(ctx.db, ANY_CHANGE);
  r.seconds['final analyze'] = (Date.now() - reanalyzing) / 1000;
  return {
    ...r,
    canonicalSeconds,
    projectionSeconds: (Date.now() - started) / 1000 - canonicalSeconds,
    storeSeconds: built.storeSeconds,
  };
}

const count = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n > 10_000_000)
    throw new ValidationError(`${name} must be a whole number from 0 to 10000000, got '${v}'`);
  return n;
};

export function registerSeed(program: Command, out: Output = consoleOutput): void {
  program
    .command('seed')
    .description(
      'generate a demo social graph (users, follows, posts, reactions), then build the projections',
    )
    .option('--users <n>', 'users to create', count('--users'), 100)
    .option('--follows-per-user <n>', 'accounts each user follows', count('--follows-per-user'), 20)
    .option('--posts-per-user <n>', 'posts per user', count('--posts-per-user'), 5)
    .option('--reactions <n>', 'reactions in total', count('--reactions'), 500)
    .option('--password <password>', "every seeded account's password", 'password123')
    .option(
      '--no-projections',
      'only write canonical rows and due outbox events (a running `asora start`/`work` applies them one by one)',
    )
    .action(
      async (o: {
        users: number;
        followsPerUser: number;
        postsPerUser: number;
        reactions: number;
        password: string;
        projections: boolean;
      }) => {
        await withRunbookContext(async (ctx) => {
          await migrate(ctx.db);
          await ctx.store.provision();
          const r = await seed(ctx, o, out);
          out.log(
            `seeded ${o.users} users, ${r.follows} follows, ${r.posts} posts, ${r.reactions} reactions (${r.eventIds.length} outbox events) in ${r.canonicalSeconds.toFixed(1)} s`,
          );
          out.log(
            o.projections
              ? `projections built in ${r.projectionSeconds.toFixed(1)} s (${(r.canonicalSeconds + r.projectionSeconds).toFixed(1)} s total); events marked delivered`
              : 'projections not built: the events are due for a running `asora start`/`work`',
          );
          out.log(
            `phases (s): ${Object.entries(r.seconds)
              .map(([phase, s]) => `${phase} ${s.toFixed(1)}`)
              .join(', ')}`,
          );
          if (o.projections)
            out.log(
              `of which store bulk writes (s): ${Object.entries(r.storeSeconds)
                .map(([phase, s]) => `${phase} ${s.toFixed(1)}`)
                .join(', ')}`,
            );
          out.log(
            `sign in as ${r.emails[0] ?? '(no users)'} with password "${o.password}" (run ${r.runId})`,
          );
        });
      },
    );
}
