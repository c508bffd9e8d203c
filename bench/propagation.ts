/**
 * Propagation: POST /v1/posts → the post readable in every follower's userFeed, for 100,
 * 1,000 and 10,000 followers, with the relay and change-feed processors running in the
 * same process (what `npm start` runs).
 *   npx tsx bench/propagation.ts [--engines embedded,server] [--feed-poll-ms N]
 */
import { CONTAINERS, feedItemId } from '../src/readmodel/documents.ts';
import { addFollowers, followersOf, postAs } from './lib/audience.ts';
import { type BenchPlatform, benchPlatform, type Engine, registerUser } from './lib/platform.ts';
import { table, writeSection } from './lib/results.ts';
import { fmt, percentile } from './lib/stats.ts';

const argv = process.argv;
const opt = (name: string, def: string) =>
  argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : def;
const ENGINES = opt('engines', 'embedded,server').split(',') as Engine[];
const FEED_POLL_MS = argv.includes('--feed-poll-ms')
  ? Number(opt('feed-poll-ms', '5000'))
  : undefined;
const MAX = Number(opt('max-followers', '10000'));
// --sizes 300:5,10000:2 = follower counts and posts per count.
const SIZES = opt('sizes', '100:5,1000:3,10000:2')
  .split(',')
  .map((x) => x.split(':').map(Number) as [number, number])
  .filter(([n]) => n <= MAX);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per-follower visibility times (ms after the POST was sent), checking only followers not yet seen. */
async function watch(
  bp: BenchPlatform,
  postId: string,
  followers: string[],
  sentAt: number,
  timeoutMs = 120_000,
) {
  const feed = bp.platform.store.container(CONTAINERS.userFeed);
  let remaining = followers;
  const seen: number[] = [];
  while (remaining.length > 0) {
    if (performance.now() - sentAt > timeoutMs)
      throw new Error(`${remaining.length} follower(s) never got ${postId}`);
    const found = new Set<string>();
    for (let i = 0; i < remaining.length; i += 1_000) {
      const chunk = remaining.slice(i, i + 1_000);
      const page = await feed.readMany(
        chunk.map((f) => ({ id: feedItemId(f, postId), partitionKey: f })),
      );
      const now = performance.now() - sentAt;
      for (const d of page.items) {
        found.add(String(d.recipientId));
        seen.push(now);
      }
    }
    remaining = remaining.filter((f) => !found.has(f));
    if (remaining.length > 0) await sleep(10);
  }
  return seen;
}

async function runEngine(engine: Engine) {
  console.log(`engine ${engine}`);
  const bp = await benchPlatform(engine, {
    workers: true,
    workerOptions:
      FEED_POLL_MS === undefined ? undefined : { processor: { feedPollDelayMs: FEED_POLL_MS } },
  });
  const rows: (string | number)[][] = [];
  try {
    for (const [n, posts] of SIZES) {
      const author = await registerUser(bp.baseUrl, `author${n}`);
      await addFollowers(bp, author.id, n);
      const followers = await followersOf(bp, author.id);
      const perFollower: number[] = [];
      const last: number[] = [];
      for (let k = 0; k < posts; k++) {
        await sleep(1_000);
        const p = await postAs(bp, author.token, `propagation ${n} #${k}`);
        const seen = await watch(bp, p.id, followers, p.sentAt);
        perFollower.push(...seen);
        last.push(Math.max(...seen));
        console.log(
          `  ${n} followers, post ${k + 1}/${posts}: last follower after ${fmt(Math.max(...seen), 0)} ms`,
        );
      }
      rows.push([
        n.toLocaleString('en-US'),
        posts,
        fmt(percentile(perFollower, 50), 0),
        fmt(percentile(perFollower, 99), 0),
        last.map((l) => fmt(l, 0)).join(', '),
      ]);
    }
  } finally {
    await bp.close();
  }
  return rows;
}

const sections: string[] = [];
for (const engine of ENGINES) {
  const rows = await runEngine(engine);
  sections.push(
    [
      `### ${engine === 'embedded' ? 'Embedded (PGlite canonical + PGlite projections, one process)' : 'Server (canonical and embedded projection store on PostgreSQL, one process)'}`,
      '',
      table(
        [
          'followers',
          'posts',
          'p50 ms (per follower)',
          'p99 ms (per follower)',
          'every follower reached after (ms, per post)',
        ],
        rows,
      ),
    ].join('\n'),
  );
}
writeSection(
  'propagation',
  'c. Propagation: POST /v1/posts → visible in every follower’s feed',
  [
    `Relay and change-feed processors in the benchmark process (as \`npm start\`), ${FEED_POLL_MS === undefined ? 'with the shipped defaults (relay: LISTEN/NOTIFY on a server, 1 s polling on PGlite; change-feed poll delay after an empty read: CHANGEFEED_POLL_MS, 1 s on the embedded store, 5 s on Cosmos as the .NET processor)' : `change-feed poll delay ${FEED_POLL_MS} ms`}. Time runs from sending POST /v1/posts to the follower's userFeed item being readable (the partition GET /v1/feed reads), observed by polling only the followers not yet reached (1,000-key readMany calls, 10 ms apart), so each figure includes up to one polling round of observation delay. p50/p99 are over every (post, follower) pair.`,
    '',
    sections.join('\n\n'),
  ].join('\n'),
);
process.exit(0);
