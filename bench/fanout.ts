/**
 * Fan-out throughput (userFeed items written per second) on each engine: one author with
 * N followers publishes P posts back to back through the API; the in-process relay and
 * change-feed processors deliver them. The floor, in the same run and database: a raw
 * multi-row upsert of the same number of feed rows (batches of 500, 4 at once, as the
 * fan-out writes) into a table of the same shape and indexes, with the rows as three array
 * parameters and again as one JSON parameter. The fan-out itself sends each post once per
 * page of recipients (upsertCopies), the floor every row whole. Each engine runs `rounds`
 * times on the same platform (new posts each round, each with its own floors right after);
 * the medians are reported beside every round.
 *   npx tsx bench/fanout.ts [--engines embedded,server] [--followers 10000] [--posts 5] [--rounds 3]
 */
import { randomUUID } from 'node:crypto';
import type { EmbeddedProjectionStore } from '../src/projections/connect.ts';
import { CONTAINERS } from '../src/readmodel/documents.ts';
import { addFollowers, postAs } from './lib/audience.ts';
import { FLOOR_LSN, FLOOR_SQL, FLOOR_TABLE, type FloorInput, floorJson } from './lib/floor.ts';
import { type BenchPlatform, benchPlatform, type Engine, registerUser } from './lib/platform.ts';
import { table, writeSection } from './lib/results.ts';
import { fmt, percentile } from './lib/stats.ts';

const argv = process.argv;
const opt = (name: string, def: string) =>
  argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : def;
const FOLLOWERS = Number(opt('followers', '10000'));
const POSTS = Number(opt('posts', '5'));
const FEED_POLL_MS = Number(opt('feed-poll-ms', '100'));
const ENGINES = opt('engines', 'embedded,server').split(',') as Engine[];
const ROUNDS = Number(opt('rounds', '3'));
const PEER_BATCH = 500;
const PEER_CONCURRENCY = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => fmt(b / 1024 / 1024, 0);

/** Raw multi-row upserts of `rows` feed rows into a same-shaped copy of the userFeed table: rows/s. */
async function rawInsertFloor(bp: BenchPlatform, rows: number, input: FloorInput): Promise<number> {
  const db = (bp.platform.store as EmbeddedProjectionStore).db;
  const { rows: t } = await db.query<{ name: string }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = 'proj_userfeed' AND n.nspname NOT LIKE 'pg_%' LIMIT 1`,
  );
  const src = t[0]!.name;
  await db.exec(`DROP TABLE IF EXISTS ${FLOOR_TABLE}; CREATE TABLE ${FLOOR_TABLE} (LIKE ${src} INCLUDING ALL);
                 CREATE SEQUENCE IF NOT EXISTS ${FLOOR_LSN}`);
  const postId = randomUUID();
  const now = new Date().toISOString();
  const batches = Array.from({ length: Math.ceil(rows / PEER_BATCH) }, (_, b) =>
    Array.from({ length: Math.min(PEER_BATCH, rows - b * PEER_BATCH) }, () => {
      const recipientId = randomUUID();
      return {
        pk: recipientId,
        id: `${recipientId}:${postId}`,
        body: JSON.stringify({
          id: `${recipientId}:${postId}`,
          recipientId,
          postId,
          authorId: postId,
          text: 'fan-out floor',
          tags: [],
          createdAt: now,
          updatedAt: now,
          sourceVersion: 1,
        }),
      };
    }),
  );
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: PEER_CONCURRENCY }, async () => {
      for (let b = batches[next++]; b; b = batches[next++]) {
        await db.query(
          FLOOR_SQL[input],
          input === 'arrays'
            ? [b.map((r) => r.pk), b.map((r) => r.id), b.map((r) => r.body)]
            : [floorJson(b)],
        );
      }
    }),
  );
  const perSecond = rows / ((performance.now() - t0) / 1000);
  await db.exec(`DROP TABLE ${FLOOR_TABLE}; DROP SEQUENCE ${FLOOR_LSN}`);
  return perSecond;
}

interface EngineResult {
  engine: Engine;
  round: number;
  items: number;
  doneS: number;
  perSecondWindow: number;
  perSecondTotal: number;
  floor: number;
  floorJson: number;
  rss: string;
  trace: string;
}

async function runEngine(engine: Engine): Promise<EngineResult[]> {
  const bp = await benchPlatform(engine, {
    workers: true,
    workerOptions: { processor: { feedPollDelayMs: FEED_POLL_MS } },
  });
  try {
    // Count delivered items as the fan-out's own writes complete (the store caches its
    // container objects, so wrapping this one sees every write), and time the first and
    // the last of them there: the poll below only notices the end, up to 100 ms late.
    // Polling the table instead would queue behind the fan-out on PGlite's single connection.
    const feed = bp.platform.store.container(CONTAINERS.userFeed);
    const upsertCopies = feed.upsertCopies.bind(feed);
    let written = 0;
    let firstAt = 0;
    let lastAt = 0;
    let t0 = 0;
    feed.upsertCopies = async (sets, opts) => {
      const r = await upsertCopies(sets, opts);
      const ok = r.statuses.filter((st) => st >= 200 && st < 300).length;
      if (ok > 0 && t0 > 0) {
        written += ok;
        lastAt = performance.now() - t0;
        if (!firstAt) firstAt = lastAt;
      }
      return r;
    };
    const author = await registerUser(bp.baseUrl, 'fanout-author');
    await addFollowers(bp, author.id, FOLLOWERS);
    await sleep(2_000);

    const rounds: EngineResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const base = written;
      const expected = base + FOLLOWERS * POSTS; // every follower (the author's own copies may add a few)
      const rssBefore = process.memoryUsage().rss;
      let peakRss = rssBefore;
      let peakHeap = process.memoryUsage().heapUsed;
      const sampler = setInterval(() => {
        const m = process.memoryUsage();
        peakRss = Math.max(peakRss, m.rss);
        peakHeap = Math.max(peakHeap, m.heapUsed);
      }, 25);

      firstAt = 0;
      t0 = performance.now();
      for (let k = 0; k < POSTS; k++) await postAs(bp, author.token, `fan-out ${round}.${k}`);
      const trace: [number, number][] = [];
      while (written < expected) {
        await sleep(100);
        const t = performance.now() - t0;
        trace.push([t, written - base]);
        if (t > 600_000)
          throw new Error(`only ${written - base} of ${expected - base} items after 10 minutes`);
      }
      // Own-feed copies still in flight land before the count is read.
      await sleep(200);
      t0 = 0;
      // The last point is the last write itself (a poll that saw the same count is dropped).
      if (trace.at(-1)?.[1] === written - base) trace.pop();
      trace.push([lastAt, written - base]);
      clearInterval(sampler);
      const items = written - base;
      const r: EngineResult = {
        engine,
        round,
        items,
        doneS: lastAt / 1000,
        perSecondWindow: items / ((lastAt - firstAt) / 1000),
        perSecondTotal: items / (lastAt / 1000),
        floor: await rawInsertFloor(bp, items, 'arrays'),
        floorJson: await rawInsertFloor(bp, items, 'json'),
        rss: `${mb(rssBefore)} / ${mb(peakRss)} / ${mb(process.resourceUsage().maxRSS * 1024)}`,
        trace: trace
          .filter(
            (_, i) => i % Math.max(1, Math.floor(trace.length / 8)) === 0 || i === trace.length - 1,
          )
          .map(([t, k]) => `${fmt(t / 1000, 1)} → ${k}`)
          .join(', '),
      };
      console.log(r, { peakHeap: mb(peakHeap) });
      rounds.push(r);
    }
    return rounds;
  } finally {
    await bp.close();
  }
}

const results: EngineResult[] = [];
for (const engine of ENGINES) results.push(...(await runEngine(engine)));
const median = (xs: number[]) => percentile(xs, 50);
const medians = ENGINES.map((engine) => {
  const rs = results.filter((r) => r.engine === engine);
  return {
    engine,
    perSecond: median(rs.map((r) => r.perSecondWindow)),
    arrays: median(rs.map((r) => r.perSecondWindow / r.floor)),
    json: median(rs.map((r) => r.perSecondWindow / r.floorJson)),
    all: rs.map((r) => `${fmt(r.perSecondWindow / r.floor, 2)}×`).join(', '),
  };
});
writeSection(
  'fanout',
  'd. Fan-out throughput against a raw multi-row insert',
  [
    `The platform with the API, relay and change-feed processors in this one process (embedded: canonical and projections in one PGlite; server: two scratch databases on the loopback PostgreSQL). One author with ${FOLLOWERS.toLocaleString('en-US')} followers publishes ${POSTS} posts back to back via POST /v1/posts, in each of ${ROUNDS} rounds on the same platform; items counted, and timed, as the fan-out's version-guarded writes complete (\`upsertCopies\`: each page of recipients gets copies of the post's feed item, which the embedded store sends once per page; own-feed copies included): items/s is from the first to the last of those writes completing. Floor, same run and database, right after each round: a raw multi-row upsert of as many feed rows into a copy of the userFeed table (same columns and indexes; batches of ${PEER_BATCH}, ${PEER_CONCURRENCY} at once), measured twice: with the rows as three array parameters (the floor the issue set), then as one JSON array parameter (the input shape of the store's \`bulk\`, which sends every document whole). The floor sends every row whole; the fan-out sends the post once per page, so a ratio above 1× is possible.`,
    '',
    table(
      [
        'engine',
        'round',
        'feed items',
        'first POST → last item (s)',
        'items/s (first → last bulk write)',
        'items/s (incl. relay + feed start-up)',
        'raw insert, array params (rows/s)',
        'fan-out ÷ raw (arrays)',
        'raw insert, one JSON param (rows/s)',
        'fan-out ÷ raw (JSON)',
        'RSS before / peak / kernel max (MB)',
      ],
      results.map((r) => [
        r.engine,
        String(r.round),
        r.items.toLocaleString('en-US'),
        fmt(r.doneS, 1),
        fmt(r.perSecondWindow, 0),
        fmt(r.perSecondTotal, 0),
        fmt(r.floor, 0),
        `${fmt(r.perSecondWindow / r.floor, 2)}×`,
        fmt(r.floorJson, 0),
        `${fmt(r.perSecondWindow / r.floorJson, 2)}×`,
        r.rss,
      ]),
    ),
    '',
    ...medians.map(
      (m) =>
        `Median of ${ROUNDS} rounds, ${m.engine}: ${fmt(m.perSecond, 0)} items/s, ${fmt(m.arrays, 2)}× the raw insert with array parameters (rounds: ${m.all}), ${fmt(m.json, 2)}× with one JSON parameter.`,
    ),
    '',
    ...results.map((r) => `Progress ${r.engine}, round ${r.round} (s → items): ${r.trace}`),
  ].join('\n'),
);
process.exit(0);
