/**
 * Fan-out throughput (userFeed items written per second) and peak memory (RSS) of the
 * embedded process: one author with N followers publishes P posts back to back through the
 * API; the in-process relay and change-feed processors deliver them.
 *   npx tsx bench/fanout.ts [--followers 10000] [--posts 5]
 */
import type { EmbeddedProjectionStore } from '../src/projections/connect.ts';
import { addFollowers, postAs } from './lib/audience.ts';
import { benchPlatform, registerUser } from './lib/platform.ts';
import { table, writeSection } from './lib/results.ts';
import { fmt } from './lib/stats.ts';

const argv = process.argv;
const opt = (name: string, def: string) =>
  argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : def;
const FOLLOWERS = Number(opt('followers', '10000'));
const POSTS = Number(opt('posts', '5'));
const FEED_POLL_MS = Number(opt('feed-poll-ms', '100'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => fmt(b / 1024 / 1024, 0);

const bp = await benchPlatform('embedded', {
  workers: true,
  workerOptions: { processor: { feedPollDelayMs: FEED_POLL_MS } },
});
try {
  const store = bp.platform.store as EmbeddedProjectionStore;
  const count = async () =>
    (await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM proj_userfeed')).rows[0]!
      .n;
  const author = await registerUser(bp.baseUrl, 'fanout-author');
  await addFollowers(bp, author.id, FOLLOWERS);
  await sleep(2_000);
  const base = await count();
  const expected = base + FOLLOWERS * POSTS + POSTS; // every follower, plus the author's own feed

  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 25);

  const t0 = performance.now();
  for (let k = 0; k < POSTS; k++) await postAs(bp, author.token, `fan-out ${k}`);
  let first = 0;
  let n = base;
  const trace: [number, number][] = [];
  while (n < expected) {
    await sleep(100);
    n = await count();
    const t = performance.now() - t0;
    if (!first && n > base + POSTS) first = t;
    trace.push([t, n - base]);
    if (t > 600_000)
      throw new Error(`only ${n - base} of ${expected - base} items after 10 minutes`);
  }
  const done = performance.now() - t0;
  clearInterval(sampler);
  const items = expected - base;
  const perSecondWindow = items / ((done - first) / 1000);
  const perSecondTotal = items / (done / 1000);
  console.log({ items, done, first, perSecondWindow, perSecondTotal, peakRss: mb(peakRss) });

  writeSection(
    'fanout',
    'd. Fan-out throughput and memory of the embedded process',
    `npx tsx bench/fanout.ts --followers ${FOLLOWERS} --posts ${POSTS} --feed-poll-ms ${FEED_POLL_MS}`,
    [
      `Embedded platform (PGlite canonical + PGlite projections) with the API, relay and change-feed processors in this one process; change-feed poll delay ${FEED_POLL_MS} ms; fan-out batches of 100 recipients (default). One author with ${FOLLOWERS.toLocaleString('en-US')} followers publishes ${POSTS} posts back to back via POST /v1/posts; userFeed rows counted every 100 ms.`,
      '',
      table(
        [
          'feed items written',
          'from first POST to last item (s)',
          'items/s (first → last item written)',
          'items/s (incl. relay + poll start-up)',
          'RSS before / peak (MB)',
          'peak JS heap (MB)',
        ],
        [
          [
            items.toLocaleString('en-US'),
            fmt(done / 1000, 1),
            fmt(perSecondWindow, 0),
            fmt(perSecondTotal, 0),
            `${mb(rssBefore)} / ${mb(peakRss)}`,
            mb(peakHeap),
          ],
        ],
      ),
      '',
      `Progress (s → items): ${trace
        .filter(
          (_, i) => i % Math.max(1, Math.floor(trace.length / 10)) === 0 || i === trace.length - 1,
        )
        .map(([t, k]) => `${fmt(t / 1000, 1)} → ${k}`)
        .join(', ')}`,
    ].join('\n'),
  );
} finally {
  await bp.close();
}
process.exit(0);
