/**
 * Feed read: GET /v1/feed (autocannon) against its floor, a bare node:http route in the
 * same process that does only what a feed read cannot avoid (JWT check, the one userFeed
 * query, JSON out), on the embedded store (PGlite) and on the PostgreSQL server. Reports
 * SQL statements per request (asora_request_sql_statements), PostgreSQL transactions per
 * request (pg_stat_database, server only) and, timed directly in the same run, the
 * canonical alternative (JOIN follows × posts) against the userFeed query.
 *   npx tsx bench/feed-read.ts [--seconds 5] [--engines embedded,server]
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { asWorker } from '../src/canonical/session.ts';
import { FEED_ORDER } from '../src/pipeline/feed-trim.ts';
import { regenerateUserFeed } from '../src/pipeline/regenerate-feed.ts';
import type { BulkOp } from '../src/projections/port.ts';
import { postDoc, zeroCounts } from '../src/readmodel/builders.ts';
import { CONTAINERS, type FeedItemDoc } from '../src/readmodel/documents.ts';
import { autocannon, type LoadResult } from './lib/autocannon.ts';
import { benchServerUrl, serverVersion } from './lib/pg.ts';
import { type BenchPlatform, benchPlatform, type Engine, registerUser } from './lib/platform.ts';
import { table, writeSection } from './lib/results.ts';
import { fmt, percentile, ratio } from './lib/stats.ts';

const argv = process.argv;
const opt = (name: string, def: string) =>
  argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : def;
const SECONDS = Number(opt('seconds', '5'));
const ENGINES = opt('engines', 'embedded,server').split(',') as Engine[];
const FOLLOWS = [100, 1_000, 5_000];
const AUTHORS = Number(opt('authors', '50000'));
const POSTS_PER_AUTHOR = Number(opt('posts-per-author', '4'));
const CONNECTIONS = 10;
// Discarded load before each measured run: long enough for V8 to optimise the whole request
// path (2 s left the first row measuring partly unoptimised code).
const WARMUP_SECONDS = Number(opt('warmup-seconds', '6'));

const JOIN_SQL = `SELECT p.id, p.author_id, p.text, p.tags, p.created_at
  FROM follows f JOIN posts p ON p.author_id = f.followee_id
 WHERE f.follower_id = $1 AND p.status = 'published' AND p.deleted_at IS NULL
 ORDER BY p.created_at DESC LIMIT 50`;

/** Runs fn repeatedly (sequentially) for up to `ms` or `max` runs; returns per-call ms. */
async function timeLoop(fn: () => Promise<unknown>, ms = 5_000, max = 1_000): Promise<number[]> {
  const out: number[] = [];
  const until = performance.now() + ms;
  while (out.length < max && performance.now() < until) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

const withZeroCounts = (...a: Parameters<typeof postDoc>) => ({
  ...postDoc(...a),
  counts: zeroCounts(),
});

/** Committed + rolled-back transactions in the given databases so far (server only). */
async function xacts(dbNames: string[]): Promise<number> {
  const c = new pg.Client({ connectionString: benchServerUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>(
      'SELECT sum(xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = ANY($1)',
      [dbNames],
    );
    return Number(rows[0]!.n);
  } finally {
    await c.end();
  }
}

/**
 * The floor: GET /floor on a bare node:http server in this process, sharing the platform's
 * projection store: JWT check (the API's own verifier), the one userFeed query a feed page
 * needs, JSON out. Nothing a feed read could do less.
 */
async function startFloor(bp: BenchPlatform): Promise<{ url: string; server: Server }> {
  const app = bp.platform.app!;
  const feed = bp.platform.store.container(CONTAINERS.userFeed);
  const server = createServer((req, res) => {
    void (async () => {
      try {
        const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
        const claims = app.jwt.verify<{ sub: string }>(token);
        const page = await feed.query<FeedItemDoc>({
          partitionKey: claims.sub,
          orderBy: FEED_ORDER,
          limit: 50,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ items: page.items, cursor: page.continuation }));
      } catch {
        res.writeHead(401).end();
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/floor`, server };
}

async function sqlPerRequest(bp: BenchPlatform): Promise<{ sum: number; count: number }> {
  const m = bp.platform.metrics.requestSqlStatements;
  const { values } = await m.get();
  const pick = (name: string) =>
    values.find((v) => v.metricName === name && v.labels.route === '/v1/feed')?.value ?? 0;
  return {
    sum: pick('asora_request_sql_statements_sum'),
    count: pick('asora_request_sql_statements_count'),
  };
}

async function seed(bp: BenchPlatform) {
  const db = bp.ownerDb;
  const t0 = performance.now();
  await db.query(
    `WITH a AS (INSERT INTO users (email) SELECT 'bench-author-' || lpad(i::text, 6, '0') || '@bench.test' FROM generate_series(1, $1) i RETURNING id)
     INSERT INTO profiles (user_id, display_name) SELECT id, 'author' FROM a`,
    [AUTHORS],
  );
  // Every post its own millisecond over 30 days (a random() in a LATERAL subquery is
  // evaluated once per outer value, which once gave 50,000 posts 10 timestamps).
  await db.query(
    `INSERT INTO posts (author_id, text, created_at, updated_at)
     SELECT author_id, 'bench post ' || g, t, t FROM (
       SELECT u.id AS author_id, g,
              date_trunc('milliseconds', now()) - (row_number() OVER (ORDER BY random()))
                * (2592000000 / ($2::bigint * $1)) * interval '1 millisecond' AS t
         FROM users u CROSS JOIN generate_series(1, $1) g
        WHERE u.email LIKE 'bench-author-%') x`,
    [POSTS_PER_AUTHOR, AUTHORS],
  );
  const readers: Record<number, { id: string; token: string }> = {};
  for (const n of FOLLOWS) {
    const r = await registerUser(bp.baseUrl, `reader${n}`);
    readers[n] = r;
    await db.query(
      `INSERT INTO follows (follower_id, followee_id)
       SELECT $1, id FROM users WHERE email LIKE 'bench-author-%' ORDER BY random() LIMIT $2`,
      [r.id, n],
    );
  }
  await db.exec('VACUUM ANALYZE');
  // The projections the pipeline would have built: each reader's feed (newest 800) and the
  // posts_v2 documents its items point at.
  const posts = bp.platform.store.container(CONTAINERS.posts);
  for (const n of FOLLOWS) {
    const r = await regenerateUserFeed(bp.pipeline, readers[n]!.id);
    const page = await bp.platform.store
      .container(CONTAINERS.userFeed)
      .query<FeedItemDoc>({ partitionKey: readers[n]!.id, orderBy: FEED_ORDER, limit: 1000 });
    const ids = page.items.map((i) => i.postId);
    const rows = await asWorker(
      db,
      async (tx) =>
        (
          await tx.query<{
            id: string;
            author_id: string;
            text: string;
            tags: string[];
            status: 'published';
            version: number;
            created_at: Date;
            updated_at: Date;
          }>(
            'SELECT id, author_id, text, tags, status, version, created_at, updated_at FROM posts WHERE id = ANY($1::uuid[])',
            [ids],
          )
        ).rows,
    );
    // No reactions are seeded: the counts the reaction pipeline would store are zeros.
    const ops: BulkOp[] = rows.map((p) => ({
      op: 'upsert',
      doc: withZeroCounts({
        id: p.id,
        authorId: p.author_id,
        text: p.text,
        tags: p.tags,
        status: p.status,
        version: Number(p.version),
        createdAt: new Date(p.created_at).toISOString(),
        updatedAt: new Date(p.updated_at).toISOString(),
      }),
    }));
    for (let i = 0; i < ops.length; i += 100) await posts.bulk(ops.slice(i, i + 100));
    console.log(`  reader${n}: feed ${r.wanted} items`);
  }
  const projUrl =
    bp.platform.config.projections.kind === 'embedded'
      ? bp.platform.config.projections.url
      : undefined;
  if (projUrl) {
    // The fresh tables would otherwise be autovacuumed during the first measurement.
    const c = new pg.Client({ connectionString: projUrl });
    await c.connect();
    await c.query('VACUUM ANALYZE').finally(() => c.end());
  }
  console.log(
    `  seeded ${AUTHORS} authors × ${POSTS_PER_AUTHOR} posts in ${fmt((performance.now() - t0) / 1000, 1)} s`,
  );
  return readers;
}

interface Load {
  http: LoadResult;
  /** PostgreSQL transactions per request (server only). */
  xactsPerRequest?: number;
}

interface Row {
  follows: number;
  feed: Load;
  floor: Load;
  sqlPerRequest: number;
  feedQuery: number[];
  join: number[];
}

async function runEngine(engine: Engine): Promise<{ rows: Row[]; note: string }> {
  console.log(`engine ${engine}: starting the platform`);
  const bp = await benchPlatform(engine, { workers: false });
  const floor = await startFloor(bp);
  const c = bp.platform.config;
  const dbNames =
    engine === 'server'
      ? [c.canonical.url, c.projections.kind === 'embedded' ? c.projections.url : undefined]
          .filter((u): u is string => !!u)
          .map((u) => new URL(u).pathname.slice(1))
      : [];
  // An idle backend flushes its counters to pg_stat_database within 10 s (PGSTAT_IDLE_INTERVAL).
  const settle = () => new Promise((r) => setTimeout(r, 11_000));
  /** Transactions so far, once every backend has flushed its counters (server only). */
  const mark = async () => {
    if (engine !== 'server') return 0;
    await settle();
    return xacts(dbNames);
  };
  let last = 0;
  const load = async (url: string, headers: Record<string, string>): Promise<Load> => {
    const http = await autocannon(url, { connections: CONNECTIONS, seconds: SECONDS, headers });
    if (engine !== 'server') return { http };
    const before = last;
    last = await mark();
    return { http, xactsPerRequest: (last - before) / http.requests };
  };
  try {
    const readers = await seed(bp);
    const rows: Row[] = [];
    const feed = bp.platform.store.container(CONTAINERS.userFeed);
    for (const n of FOLLOWS) {
      const { id, token } = readers[n]!;
      const url = `${bp.baseUrl}/v1/feed?limit=50`;
      const headers = { authorization: `Bearer ${token}` };
      for (const u of [url, floor.url]) {
        for (let i = 0; i < 20; i++) {
          const res = await fetch(u, { headers });
          const body = (await res.json()) as { items: unknown[] };
          if (res.status !== 200 || body.items.length !== 50)
            throw new Error(`warm-up ${u}: HTTP ${res.status}, ${body.items?.length} items`);
        }
      }
      // A short discarded load run of each route first: the first measured run must not
      // pay for cold caches (buffers, JIT) that the later ones do not.
      for (const u of [url, floor.url])
        await autocannon(u, { connections: CONNECTIONS, seconds: WARMUP_SECONDS, headers });
      last = await mark();
      const sqlBefore = await sqlPerRequest(bp);
      const feedLoad = await load(url, headers);
      const sqlAfter = await sqlPerRequest(bp);
      const floorLoad = await load(floor.url, headers);
      const feedQuery = await timeLoop(() =>
        feed.query({ partitionKey: id, orderBy: FEED_ORDER, limit: 50 }),
      );
      const readDb = bp.ownerDb;
      const join = await timeLoop(() => readDb.query(JOIN_SQL, [id]));
      const row: Row = {
        follows: n,
        feed: feedLoad,
        floor: floorLoad,
        sqlPerRequest: (sqlAfter.sum - sqlBefore.sum) / (sqlAfter.count - sqlBefore.count),
        feedQuery,
        join,
      };
      rows.push(row);
      console.log(
        `  ${n} follows: feed rps ${fmt(feedLoad.http.rps, 0)} p50 ${feedLoad.http.p50} p99 ${feedLoad.http.p99}; floor rps ${fmt(floorLoad.http.rps, 0)} p50 ${floorLoad.http.p50} p99 ${floorLoad.http.p99}; SQL/request ${fmt(row.sqlPerRequest)}; xacts/request ${fmt(feedLoad.xactsPerRequest ?? Number.NaN)} (floor ${fmt(floorLoad.xactsPerRequest ?? Number.NaN)}); userFeed query p50 ${fmt(percentile(feedQuery, 50))}; JOIN p50 ${fmt(percentile(join, 50))}`,
      );
    }
    const note =
      engine === 'server'
        ? await serverVersion()
        : 'PGlite (PostgreSQL in WASM, in-process, single connection)';
    return { rows, note };
  } finally {
    await new Promise((r) => floor.server.close(r));
    await bp.close();
  }
}

const lat = (l: Load) => `${l.http.p50} / ${l.http.p99}`;

/** One results table: a column per [heading, the cell of a row]. */
const rowTable = (rows: Row[], columns: [string, (r: Row) => string][]) =>
  table(
    columns.map(([heading]) => heading),
    rows.map((r) => columns.map(([, cell]) => cell(r))),
  );

const sections: string[] = [];
for (const engine of ENGINES) {
  const { rows, note } = await runEngine(engine);
  sections.push(
    [
      `### ${engine === 'embedded' ? 'Embedded: canonical and projections on PGlite' : 'Server: canonical and the embedded projection store on PostgreSQL'} (${note})`,
      '',
      rowTable(rows, [
        ['follows', (r) => r.follows.toLocaleString('en-US')],
        ['GET /v1/feed req/s', (r) => fmt(r.feed.http.rps, 0)],
        ['floor req/s', (r) => fmt(r.floor.http.rps, 0)],
        ['feed ÷ floor req/s', (r) => ratio(r.feed.http.rps, r.floor.http.rps)],
        ['feed p50 / p99 ms', (r) => lat(r.feed)],
        ['floor p50 / p99 ms', (r) => lat(r.floor)],
        ['feed p99 ÷ floor p99', (r) => ratio(r.feed.http.p99, r.floor.http.p99)],
        ['SQL statements / feed request', (r) => fmt(r.sqlPerRequest)],
        [
          'PG transactions / feed request (floor)',
          (r) =>
            r.feed.xactsPerRequest === undefined
              ? 'n/a (in-process)'
              : `${fmt(r.feed.xactsPerRequest)} (${fmt(r.floor.xactsPerRequest ?? Number.NaN)})`,
        ],
      ]),
      '',
      rowTable(rows, [
        ['follows', (r) => r.follows.toLocaleString('en-US')],
        [
          'userFeed query p50 / p99 ms',
          (r) => `${fmt(percentile(r.feedQuery, 50))} / ${fmt(percentile(r.feedQuery, 99))}`,
        ],
        [
          'canonical JOIN p50 / p99 ms',
          (r) => `${fmt(percentile(r.join, 50))} / ${fmt(percentile(r.join, 99))}`,
        ],
        [
          'JOIN ÷ userFeed (p50)',
          (r) => ratio(percentile(r.join, 50), percentile(r.feedQuery, 50)),
        ],
        [
          'JOIN ÷ userFeed (p99)',
          (r) => ratio(percentile(r.join, 99), percentile(r.feedQuery, 99)),
        ],
      ]),
      '',
      `Samples: GET /v1/feed ${rows.map((r) => r.feed.http.requests).join(' / ')} requests; floor ${rows.map((r) => r.floor.http.requests).join(' / ')}; userFeed query ${rows.map((r) => r.feedQuery.length).join(' / ')}; JOIN ${rows.map((r) => r.join.length).join(' / ')}.`,
    ].join('\n'),
  );
}

writeSection(
  `feed-read-${AUTHORS}-${ENGINES.join('-')}`,
  `a. Feed read vs its floor, and userFeed vs canonical JOIN (${AUTHORS.toLocaleString('en-US')} authors, ${ENGINES.join(' + ')})`,
  [
    `${AUTHORS.toLocaleString('en-US')} authors × ${POSTS_PER_AUTHOR} posts (${(AUTHORS * POSTS_PER_AUTHOR).toLocaleString('en-US')} posts, each its own millisecond over 30 days); one reader per row following N authors chosen at random, a small share of all authors as in a real graph; feeds built by regenerateUserFeed (800-item cap), posts_v2 documents with their (zero) reaction counts. GET /v1/feed?limit=50 through the whole API and the floor (bare node:http in the same process: JWT check with the API's verifier, the one userFeed query, JSON out) each with autocannon (${CONNECTIONS} connections, ${SECONDS} s, separate process, loopback), one after the other in the same run. SQL statements per request from asora_request_sql_statements (canonical and embedded store, BEGIN/COMMIT included); PostgreSQL transactions per request from pg_stat_database (xact_commit + xact_rollback of the two databases over the load run, server only). "userFeed query" is the projection's one partition-scoped indexed query and "canonical JOIN" the alternative, each timed directly and sequentially against the same databases in the same run (up to 5 s or 1,000 calls each).`,
    '',
    sections.join('\n\n'),
  ].join('\n'),
);
process.exit(0);
