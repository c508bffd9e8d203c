import { randomBytes, randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { connectCanonical } from '../canonical/connect.ts';
import { migrate } from '../canonical/migrations.ts';
import { asWorker } from '../canonical/session.ts';
import { loadConfig } from '../config/config.ts';
import { hashPassword } from '../domain/password.ts';
import { ValidationError } from '../errors.ts';
import { type PostSnapshot, REACTION_TYPES, type ReactionType } from '../events/catalogue.ts';
import { pairAggregateId } from '../events/emit.ts';
import { silentLogger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import { outboxCounts } from '../outbox/status.ts';
import { createPipelineWorkers } from '../pipeline/workers.ts';
import { createProjectionStore } from '../projections/connect.ts';
import { containerDefs } from '../readmodel/containers.ts';
import type { Db, Queryable } from '../sql/db.ts';
import { consoleOutput, type Output } from './output.ts';
import { progress } from './progress.ts';

export interface SeedOptions {
  users: number;
  followsPerUser: number;
  postsPerUser: number;
  reactions: number;
  /** Every seeded account's password. */
  password: string;
}

export interface SeedResult {
  runId: string;
  userIds: string[];
  emails: string[];
  follows: number;
  posts: number;
  reactions: number;
  events: number;
}

const BATCH = 1000;
const WORDS = [
  'coffee',
  'rust',
  'postgres',
  'cosmos',
  'sunset',
  'running',
  'jazz',
  'pasta',
  'hiking',
  'chess',
  'books',
  'cats',
];
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const chunks = <T>(xs: T[], n: number) =>
  Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

/** Emits one event per row, in the same transaction as the rows (worker role, emit_event). */
async function emitAll(
  tx: Queryable,
  type: string,
  event: string,
  rows: { id: string; payload: unknown }[],
) {
  if (rows.length === 0) return;
  await tx.query(
    'SELECT emit_event($1, x.id, $2, x.p) FROM unnest($3::uuid[], $4::jsonb[]) AS x(id, p)',
    [type, event, rows.map((r) => r.id), rows.map((r) => JSON.stringify(r.payload))],
  );
}

/**
 * Generates a demo social graph straight into canonical with batched SQL as the worker
 * role, each batch with its outbox events in the same transaction. The pipeline then builds
 * every projection from those events, as it would for API traffic.
 */
export async function seedGraph(
  db: Db,
  opts: SeedOptions,
  out: Output = consoleOutput,
): Promise<SeedResult> {
  const runId = randomBytes(3).toString('hex');
  const hash = await hashPassword(opts.password);
  const now = Date.now();
  const userIds = Array.from({ length: opts.users }, () => randomUUID());
  const emails = userIds.map((_, i) => `user${i + 1}-${runId}@seed.example`);
  let events = 0;

  const bar = progress(out, 'users    ', opts.users);
  for (const batch of chunks(
    userIds.map((id, i) => ({ id, i })),
    BATCH,
  )) {
    await asWorker(db, async (tx) => {
      const createdAt = new Date(now - 31 * 86_400_000).toISOString();
      await tx.query(
        `INSERT INTO users (id, email, password_hash, created_at, updated_at)
         SELECT id, email, $3, $4, $4 FROM unnest($1::uuid[], $2::text[]) AS x(id, email)`,
        [batch.map((b) => b.id), batch.map((b) => emails[b.i]), hash, createdAt],
      );
      await tx.query(
        `INSERT INTO auth_identities (user_id, provider, provider_subject)
         SELECT id, 'email', email FROM unnest($1::uuid[], $2::text[]) AS x(id, email)`,
        [batch.map((b) => b.id), batch.map((b) => emails[b.i])],
      );
      const names = batch.map((b) => `${pick(WORDS)} fan ${b.i + 1}`.slice(0, 50));
      await tx.query(
        `INSERT INTO profiles (user_id, display_name, bio, created_at, updated_at)
         SELECT id, name, 'Seeded demo account', $3, $3 FROM unnest($1::uuid[], $2::text[]) AS x(id, name)`,
        [batch.map((b) => b.id), names, createdAt],
      );
      await emitAll(
        tx,
        'profile',
        'profile.updated',
        batch.map((b, k) => ({
          id: b.id,
          payload: {
            userId: b.id,
            displayName: names[k],
            bio: 'Seeded demo account',
            avatarUrl: null,
            privacyLevel: 'public',
            version: 1,
            updatedAt: createdAt,
          },
        })),
      );
    });
    events += batch.length;
    bar.increment(batch.length);
  }
  bar.stop();

  // Follows: distinct pairs, never self.
  const pairs: [string, string][] = [];
  const perUser = Math.min(opts.followsPerUser, Math.max(0, opts.users - 1));
  for (let i = 0; i < opts.users; i++) {
    const chosen = new Set<number>();
    while (chosen.size < perUser) {
      const j = Math.floor(Math.random() * opts.users);
      if (j !== i) chosen.add(j);
    }
    for (const j of chosen) pairs.push([userIds[i]!, userIds[j]!]);
  }
  const fbar = progress(out, 'follows  ', pairs.length);
  for (const batch of chunks(pairs, BATCH)) {
    const createdAt = new Date(now - 30 * 86_400_000).toISOString();
    await asWorker(db, async (tx) => {
      await tx.query(
        `INSERT INTO follows (follower_id, followee_id, created_at)
         SELECT f, e, $3 FROM unnest($1::uuid[], $2::uuid[]) AS x(f, e)`,
        [batch.map((p) => p[0]), batch.map((p) => p[1]), createdAt],
      );
      await emitAll(
        tx,
        'follow',
        'follow.created',
        batch.map(([f, e]) => ({
          id: pairAggregateId('follow', f, e),
          payload: { followerId: f, followeeId: e, createdAt },
        })),
      );
    });
    events += batch.length;
    fbar.increment(batch.length);
  }
  fbar.stop();

  // Posts: spread over the last 30 days at millisecond precision (distinct, realistic feeds).
  const posts: PostSnapshot[] = [];
  for (const authorId of userIds) {
    for (let k = 0; k < opts.postsPerUser; k++) {
      const createdAt = new Date(now - Math.floor(Math.random() * 30 * 86_400_000)).toISOString();
      const tags = [pick(WORDS), pick(WORDS)].filter((t, i, a) => a.indexOf(t) === i);
      posts.push({
        id: randomUUID(),
        authorId,
        text: `Thinking about ${tags.join(' and ')} today (#${k + 1})`,
        tags,
        status: 'published',
        version: 1,
        createdAt,
        updatedAt: createdAt,
      });
    }
  }
  const pbar = progress(out, 'posts    ', posts.length);
  for (const batch of chunks(posts, BATCH)) {
    await asWorker(db, async (tx) => {
      await tx.query(
        `INSERT INTO posts (id, author_id, text, tags, created_at, updated_at)
         SELECT x.id, x.a, x.t, ARRAY(SELECT jsonb_array_elements_text(x.g)), x.c, x.c
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::timestamptz[]) AS x(id, a, t, g, c)`,
        [
          batch.map((p) => p.id),
          batch.map((p) => p.authorId),
          batch.map((p) => p.text),
          batch.map((p) => JSON.stringify(p.tags)),
          batch.map((p) => p.createdAt),
        ],
      );
      await emitAll(
        tx,
        'post',
        'post.created',
        batch.map((p) => ({ id: p.id, payload: p })),
      );
    });
    events += batch.length;
    pbar.increment(batch.length);
  }
  pbar.stop();

  // Reactions: distinct (post, user, type).
  const seen = new Set<string>();
  const reactions: {
    postId: string;
    postAuthorId: string;
    userId: string;
    type: ReactionType;
    createdAt: string;
  }[] = [];
  const maxReactions = posts.length * opts.users * REACTION_TYPES.length;
  while (reactions.length < Math.min(opts.reactions, maxReactions)) {
    const post = pick(posts);
    const userId = pick(userIds);
    const type = pick(REACTION_TYPES);
    const key = `${post.id}:${userId}:${type}`;
    if (seen.has(key)) continue;
    seen.add(key);
    reactions.push({
      postId: post.id,
      postAuthorId: post.authorId,
      userId,
      type,
      createdAt: new Date(now).toISOString(),
    });
  }
  const rbar = progress(out, 'reactions', reactions.length);
  for (const batch of chunks(reactions, BATCH)) {
    await asWorker(db, async (tx) => {
      await tx.query(
        `INSERT INTO reactions (post_id, user_id, type, created_at)
         SELECT p, u, t, $4 FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS x(p, u, t)`,
        [
          batch.map((r) => r.postId),
          batch.map((r) => r.userId),
          batch.map((r) => r.type),
          batch[0]!.createdAt,
        ],
      );
      await emitAll(
        tx,
        'reaction',
        'reaction.added',
        batch.map((r) => ({
          id: pairAggregateId('reaction', r.postId, r.userId, r.type),
          payload: r,
        })),
      );
    });
    events += batch.length;
    rbar.increment(batch.length);
  }
  rbar.stop();

  return {
    runId,
    userIds,
    emails,
    follows: pairs.length,
    posts: posts.length,
    reactions: reactions.length,
    events,
  };
}

const count = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 10_000_000)
    throw new ValidationError(`${name} must be a whole number >= 0`);
  return n;
};

export function registerSeed(program: Command): void {
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
      '--no-pipeline',
      'only write canonical rows and outbox events (a running `asora start`/`work` applies them)',
    )
    .action(
      async (o: {
        users: number;
        followsPerUser: number;
        postsPerUser: number;
        reactions: number;
        password: string;
        pipeline: boolean;
      }) => {
        const config = loadConfig();
        const canonical = await connectCanonical(config);
        try {
          await migrate(canonical.db);
          const started = Date.now();
          const r = await seedGraph(canonical.db, o);
          // Fresh statistics for the bulk-loaded tables (PGlite never auto-analyzes): the
          // pipeline's follower pages and claims are planned on them.
          await canonical.db.exec('ANALYZE');
          console.log(
            `seeded ${o.users} users, ${r.follows} follows, ${r.posts} posts, ${r.reactions} reactions (${r.events} outbox events) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
          );
          console.log(
            `sign in as ${r.emails[0] ?? '(no users)'} with password "${o.password}" (run ${r.runId})`,
          );
          if (!o.pipeline) return;
          const store = await createProjectionStore(config, {
            definitions: containerDefs,
            canonical: canonical.db,
          });
          const metrics = new Metrics();
          const workers = createPipelineWorkers({
            db: canonical.db,
            readDb: canonical.readDb,
            store,
            fanoutFollowerThreshold: config.pipeline.fanoutFollowerThreshold,
            feedCap: config.pipeline.feedCap,
            log: silentLogger,
            metrics,
          });
          try {
            await store.provision();
            await workers.start();
            const bar = progress(consoleOutput, 'pipeline ', r.events);
            const pending = async () =>
              asWorker(canonical.db, async (tx) => (await outboxCounts(tx)).pending);
            const timer = setInterval(() => {
              pending()
                .then((n) => bar.update(Math.max(0, r.events - n)))
                .catch(() => {});
            }, 500);
            try {
              await workers.drain({ timeoutMs: 60 * 60_000 });
              await canonical.db.exec('ANALYZE');
            } finally {
              clearInterval(timer);
              bar.update(r.events);
              bar.stop();
            }
            console.log(
              `projections built in ${((Date.now() - started) / 1000).toFixed(1)} s total`,
            );
          } finally {
            await workers.stop();
            await store.close();
          }
        } finally {
          await canonical.close();
        }
      },
    );
}
