/**
 * Feed read: GET /v1/feed (autocannon) on the embedded store (PGlite) and on the
 * PostgreSQL server, and in the same run the canonical alternative (JOIN follows × posts
 * ORDER BY created_at DESC LIMIT 50) and the userFeed query, both timed directly.
 *   npx tsx bench/feed-read.ts [--seconds 8] [--engines embedded,server]
 */
import { asWorker } from '../src/canonical/session.ts';
import { FEED_ORDER } from '../src/pipeline/feed-trim.ts';
import { regenerateUserFeed } from '../src/pipeline/regenerate-feed.ts';
import type { BulkOp } from '../src/projections/port.ts';
import { postDoc } from '../src/readmodel/builders.ts';
import { CONTAINERS, type FeedItemDoc } from '../src/readmodel/documents.ts';
import { autocannon, type LoadResult } from './lib/autocannon.ts';
import { serverVersion } from './lib/pg.ts';
import { type BenchPlatform, benchPlatform, type Engine, registerUser } from './lib/platform.ts';
import { table, writeSection } from './lib/results.ts';
import { fmt, percentile, ratio } from './lib/stats.ts';

const argv = process.argv;
const opt = (name: string, def: string) =>
  argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : def;
const SECONDS = Number(opt('seconds', '8'));
const ENGINES = opt('engines', 'embedded,server').split(',') as Engine[];
const FOLLOWS = [100, 1_000, 5_000];
const AUTHORS = Number(opt('authors', '20000'));
const POSTS_PER_AUTHOR = Number(opt('posts-per-author', '10'));
const CONNECTIONS = 10;

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

async function seed(bp: BenchPlatform) {
  const db = bp.platform.canonical.db;
  const t0 = performance.now();
  await db.query(
    `WITH a AS (INSERT INTO users (email) SELECT 'bench-author-' || lpad(i::text, 6, '0') || '@bench.test' FROM generate_series(1, $1) i RETURNING id)
     INSERT INTO profiles (user_id, display_name) SELECT id, 'author' FROM a`,
    [AUTHORS],
  );
  await db.query(
    `INSERT INTO posts (author_id, text, created_at, updated_at)
     SELECT u.id, 'bench post ' || g, t, t
       FROM users u CROSS JOIN generate_series(1, $1) g
       CROSS JOIN LATERAL (SELECT date_trunc('milliseconds', now() - (random() * 2592000 + g - g) * interval '1 second') AS t) x
      WHERE u.email LIKE 'bench-author-%'`,
    [POSTS_PER_AUTHOR],
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
  await db.exec('ANALYZE');
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
    const ops: BulkOp[] = rows.map((p) => ({
      op: 'upsert',
      doc: postDoc({
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
  console.log(
    `  seeded ${AUTHORS} authors × ${POSTS_PER_AUTHOR} posts in ${fmt((performance.now() - t0) / 1000, 1)} s`,
  );
  return readers;
}

interface Row {
  follows: number;
  http: LoadResult;
  feedQuery: number[];
  join: number[];
}

async function runEngine(engine: Engine): Promise<{ rows: Row[]; note: string }> {
  console.log(`engine ${engine}: starting the platform`);
  const bp = await benchPlatform(engine, { workers: false });
  try {
    const readers = await seed(bp);
    const rows: Row[] = [];
    const feed = bp.platform.store.container(CONTAINERS.userFeed);
    for (const n of FOLLOWS) {
      const { id, token } = readers[n]!;
      const url = `${bp.baseUrl}/v1/feed?limit=50`;
      const headers = { authorization: `Bearer ${token}` };
      for (let i = 0; i < 20; i++) {
        const res = await fetch(url, { headers });
        const body = (await res.json()) as { items: unknown[] };
        if (res.status !== 200 || body.items.length !== 50)
          throw new Error(`feed warm-up: HTTP ${res.status}, ${body.items?.length} items`);
      }
      const http = await autocannon(url, { connections: CONNECTIONS, seconds: SECONDS, headers });
      const feedQuery = await timeLoop(() =>
        feed.query({ partitionKey: id, orderBy: FEED_ORDER, limit: 50 }),
      );
      const readDb = bp.platform.canonical.readDb;
      const join = await timeLoop(() => readDb.query(JOIN_SQL, [id]));
      rows.push({ follows: n, http, feedQuery, join });
      console.log(
        `  ${n} follows: http p50 ${http.p50} p99 ${http.p99} rps ${fmt(http.rps, 0)}; feed query p50 ${fmt(percentile(feedQuery, 50))}; join p50 ${fmt(percentile(join, 50))}`,
      );
    }
    const note =
      engine === 'server'
        ? await serverVersion()
        : 'PGlite (PostgreSQL in WASM, in-process, single connection)';
    return { rows, note };
  } finally {
    await bp.close();
  }
}

const sections: string[] = [];
for (const engine of ENGINES) {
  const { rows, note } = await runEngine(engine);
  sections.push(
    [
      `### ${engine === 'embedded' ? 'Embedded: canonical and projections on PGlite' : 'Server: canonical and the embedded projection store on PostgreSQL'} (${note})`,
      '',
      table(
        [
          'follows',
          'GET /v1/feed p50 / p99 ms',
          'req/s',
          'userFeed query p50 / p99 ms',
          'canonical JOIN p50 / p99 ms',
          'JOIN ÷ userFeed (p50)',
          'JOIN ÷ userFeed (p99)',
        ],
        rows.map((r) => [
          r.follows.toLocaleString('en-US'),
          `${r.http.p50} / ${r.http.p99}${r.http.non2xx + r.http.errors > 0 ? ` (${r.http.non2xx} non-2xx, ${r.http.errors} errors)` : ''}`,
          fmt(r.http.rps, 0),
          `${fmt(percentile(r.feedQuery, 50))} / ${fmt(percentile(r.feedQuery, 99))}`,
          `${fmt(percentile(r.join, 50))} / ${fmt(percentile(r.join, 99))}`,
          ratio(percentile(r.join, 50), percentile(r.feedQuery, 50)),
          ratio(percentile(r.join, 99), percentile(r.feedQuery, 99)),
        ]),
      ),
      '',
      `Samples: GET /v1/feed ${rows.map((r) => r.http.requests).join(' / ')} requests; userFeed query ${rows.map((r) => r.feedQuery.length).join(' / ')}; JOIN ${rows.map((r) => r.join.length).join(' / ')}.`,
    ].join('\n'),
  );
}

writeSection(
  `feed-read-${AUTHORS}`,
  `a. Feed read: userFeed projection vs canonical JOIN (${AUTHORS.toLocaleString('en-US')} authors)`,
  `npx tsx bench/feed-read.ts --seconds ${SECONDS} --engines ${ENGINES.join(',')} --authors ${AUTHORS} --posts-per-author ${POSTS_PER_AUTHOR}`,
  [
    `${AUTHORS.toLocaleString('en-US')} authors × ${POSTS_PER_AUTHOR} posts (${(AUTHORS * POSTS_PER_AUTHOR).toLocaleString('en-US')} posts over 30 days); one reader per row following N authors chosen at random (so the newest posts overall are mostly not theirs, as in a real graph); feeds built by regenerateUserFeed (800-item cap). GET /v1/feed?limit=50 with autocannon (${CONNECTIONS} connections, ${SECONDS} s, separate process, loopback) through the whole API (JWT, canonical read context for blocks/mutes/popular followees, userFeed page, posts_v2 hydration, counters). "userFeed query" is the projection's one partition-scoped indexed query and "canonical JOIN" the alternative, each timed directly and sequentially against the same databases in the same run (up to 5 s or 1,000 calls each).`,
    '',
    sections.join('\n\n'),
  ].join('\n'),
);
process.exit(0);
