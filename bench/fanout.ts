/**
 * Fan-out throughput (userFeed items written per second) and peak memory (RSS) of the
 * embedded process: one author with N followers publishes P posts back to back through the
 * API; the in-process relay and change-feed processors deliver them.
 *   npx tsx bench/fanout.ts [--followers 10000] [--posts 5]
 */
import { CONTAINERS } from '../src/readmodel/documents.ts';
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
  // Count delivered items as the fan-out's own bulk writes complete (the store caches its
  // container objects, so wrapping this one sees every write). Polling the table instead
  // would queue behind the fan-out on PGlite's single connection.
  const feed = bp.platform.store.container(CONTAINERS.userFeed);
  const bulk = feed.bulk.bind(feed);
  let written = 0;
  let firstAt = 0;
  let t0 = 0;
  feed.bulk = async (ops) => {
    const r = await bulk(ops);
    const ok = r.statuses.filter(
      (st, i) => ops[i]!.op === 'upsert' && st >= 200 && st < 300,
    ).length;
    if (ok > 0 && t0 > 0) {
      written += ok;
      if (!firstAt) firstAt = performance.now() - t0;
    }
    return r;
  };
  const count = async () => written;
  const author = await registerUser(bp.baseUrl, 'fanout-author');
  await addFollowers(bp, author.id, FOLLOWERS);
  await sleep(2_000);
  const base = await count();
  const expected = base + FOLLOWERS * POSTS; // every follower (the author's own copies may add a few)

  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 25);

  t0 = performance.now();
  for (let k = 0; k < POSTS; k++) await postAs(bp, author.token, `fan-out ${k}`);
  let first = 0;
  let n = base;
  const trace: [number, number][] = [];
  while (n < expected) {
    await sleep(100);
    n = await count();
    const t = performance.now() - t0;
    if (!first && firstAt) first = firstAt;
    trace.push([t, n - base]);
    if (t > 600_000)
      throw new Error(`only ${n - base} of ${expected - base} items after 10 minutes`);
  }
  const done = performance.now() - t0;
  clearInterval(sampler);
  const items = n - base;
  const perSecondWindow = items / ((done - first) / 1000);
  const perSecondTotal = items / (done / 1000);
  console.log({ items, done, first, perSecondWindow, perSecondTotal, peakRss: mb(peakRss) });

  writeSection(
    'fanout',
    'd. Fan-out throughput and memory of the embedded process',
    `npx tsx bench/fanout.ts --followers ${FOLLOWERS} --posts ${POSTS} --feed-poll-ms ${FEED_POLL_MS}`,
    [
      `Embedded platform (PGlite canonical + PGlite projections) with the API, relay and change-feed processors in this one process; change-feed poll delay ${FEED_POLL_MS} ms; fan-out batches of 100 recipients (default). One author with ${FOLLOWERS.toLocaleString('en-US')} followers publishes ${POSTS} posts back to back via POST /v1/posts; delivered items counted as the fan-out's bulk writes complete (own-feed copies included).`,
      '',
      table(
        [
          'feed items written',
          'from first POST to last item (s)',
          'items/s (first → last bulk write)',
          'items/s (incl. relay + poll start-up)',
          'RSS before / peak sampled / kernel max RSS (MB)',
          'peak JS heap (MB)',
        ],
        [
          [
            items.toLocaleString('en-US'),
            fmt(done / 1000, 1),
            fmt(perSecondWindow, 0),
            fmt(perSecondTotal, 0),
            `${mb(rssBefore)} / ${mb(peakRss)} / ${mb(process.resourceUsage().maxRSS * 1024)}`,
            mb(peakHeap),
          ],
        ],
      ),
      '',
      `The sampled peak comes from a 25 ms timer and the progress trace from a 100 ms one: both only run when the event loop is free, so few samples mean the fan-out kept the loop busy (PGlite runs in-process). The kernel max RSS (getrusage) is exact and covers the whole process lifetime, including seeding.`,
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
