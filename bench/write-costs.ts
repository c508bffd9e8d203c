/**
 * Where a bulk write's time goes inside the database, with no Node work in the timed part
 * (every statement's parameters are built before the clock starts):
 *   1. server: the embedded store's bulk upsert of feed items (the statement upsertSegment
 *      builds, recorded and replayed) against the fan-out floor's raw insert of the same
 *      rows (bench/fanout.ts), 500 rows a statement, 4 at once; and the store's statement
 *      without its per-partition-key advisory locks (the form PGlite runs); and the statement
 *      the fan-out sends (upsertCopiesSegment: the post's item once, each copy built in it).
 *   2. PGlite, per 1,000 feed rows: turning the JSON parameter into records alone, a plain
 *      INSERT of them, and the store's version-guarded upsert.
 *   3. PGlite, per follow: the seed's INSERT into follows (two foreign keys, the
 *      follower-count trigger) against a copy of the table without foreign keys.
 *   npx tsx bench/write-costs.ts [--statements 60] [--rounds 3]
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migrate } from '../src/canonical/migrations.ts';
import {
  type BulkTarget,
  prepareCopies,
  upsertCopiesSegment,
  upsertSegment,
} from '../src/projections/embedded/bulk.ts';
import { createEmbeddedStore } from '../src/projections/embedded/store.ts';
import { serializeDoc } from '../src/projections/validate.ts';
import { feedItemFor, postDoc } from '../src/readmodel/builders.ts';
import { containerDef, containerDefs } from '../src/readmodel/containers.ts';
import type { FeedItemDoc } from '../src/readmodel/documents.ts';
import { type Db, jsonbParam, type Queryable } from '../src/sql/db.ts';
import { createPgDb } from '../src/sql/pg.ts';
import { createPgliteDb } from '../src/sql/pglite.ts';
import { EMBEDDED_PGLITE_SETTINGS } from '../src/sql/pglite-settings.ts';
import { FLOOR_LSN, FLOOR_SQL, FLOOR_TABLE, floorJson } from './lib/floor.ts';
import { scratchDatabase } from './lib/pg.ts';
import { table, writeSection } from './lib/results.ts';
import { fmt, percentile } from './lib/stats.ts';

const argv = process.argv;
const opt = (name: string, def: string) =>
  argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : def;
const STATEMENTS = Number(opt('statements', '60'));
const ROUNDS = Number(opt('rounds', '3'));
const ROWS = 500;
const CONCURRENCY = 4;

/** `n` feed items of one new post, each to a new recipient (a fan-out page). */
function feedPage(n: number): FeedItemDoc[] {
  const now = new Date().toISOString();
  const post = postDoc({
    id: randomUUID(),
    authorId: randomUUID(),
    text: 'Thinking about cats and books today (#1)',
    tags: ['cats', 'books'],
    status: 'published',
    version: 1,
    createdAt: now,
    updatedAt: now,
  });
  return Array.from({ length: n }, () => feedItemFor(randomUUID(), post));
}

interface Statement {
  sql: string;
  params: unknown[];
}

const userFeed = containerDef('userFeed')!;
const feedTarget = (keyLocks: boolean): BulkTarget => ({
  def: userFeed,
  table: 'proj_userfeed',
  containerNo: 3,
  ranges: 4,
  keyLocks,
});

/** The statement a bulk segment function sends, recorded instead of run. */
async function record(send: (recorder: Queryable) => Promise<unknown>): Promise<Statement> {
  let recorded: Statement | undefined;
  const recorder = {
    async query(sql: string, params: unknown[]) {
      recorded = { sql, params };
      return { rows: [{}], rowCount: 1 };
    },
  } as unknown as Queryable;
  await send(recorder);
  return recorded!;
}

/** The statement upsertSegment sends for these documents. */
const storeStatement = (docs: FeedItemDoc[], keyLocks: boolean): Promise<Statement> => {
  const prepared = docs.map((doc) => ({ doc, ...serializeDoc(userFeed, doc) }));
  return record((r) => upsertSegment(r, feedTarget(keyLocks), prepared, 'sourceVersion'));
};

/** The statement upsertCopiesSegment sends for these documents (one post's items: one set). */
const copiesStatement = (docs: FeedItemDoc[]): Promise<Statement> => {
  const set = prepareCopies(userFeed, docs[0]!);
  const copies = docs.map((d) => ({ set: 0, pk: d.recipientId, id: d.id }));
  return record((r) => upsertCopiesSegment(r, feedTarget(true), [set], copies, 'sourceVersion'));
};

/** The fan-out floor's raw insert of these documents (bench/lib/floor.ts, one JSON parameter). */
const floorStatement = (docs: FeedItemDoc[]): Statement => ({
  sql: FLOOR_SQL.json,
  params: [
    jsonbParam(
      floorJson(docs.map((d) => ({ pk: d.recipientId, id: d.id, body: JSON.stringify(d) }))),
    ),
  ],
});

/** Runs the statements `concurrency` at once; rows per second. */
async function replay(db: Db, statements: Statement[], concurrency: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let s = statements[next++]; s; s = statements[next++]) await db.query(s.sql, s.params);
    }),
  );
  return (statements.length * ROWS) / ((performance.now() - t0) / 1000);
}

async function serverStatements(): Promise<string> {
  const scratch = await scratchDatabase('writecosts');
  const db = createPgDb(scratch.url, { max: CONCURRENCY });
  try {
    await createEmbeddedStore(db, { definitions: containerDefs });
    await db.exec(`CREATE TABLE ${FLOOR_TABLE} (LIKE proj_userfeed INCLUDING ALL);
                   CREATE SEQUENCE ${FLOOR_LSN}`);
    const rows: string[][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const pages = Array.from({ length: STATEMENTS }, () => feedPage(ROWS));
      const floor = pages.map(floorStatement);
      const locked = await Promise.all(pages.map((p) => storeStatement(p, true)));
      const unlocked = await Promise.all(pages.map((p) => storeStatement(p, false)));
      const copies = await Promise.all(pages.map(copiesStatement));
      await db.exec(`TRUNCATE proj_userfeed, ${FLOOR_TABLE}`);
      const f = await replay(db, floor, CONCURRENCY);
      const s = await replay(db, locked, CONCURRENCY);
      await db.exec('TRUNCATE proj_userfeed');
      const u = await replay(db, unlocked, CONCURRENCY);
      await db.exec('TRUNCATE proj_userfeed');
      const c = await replay(db, copies, CONCURRENCY);
      rows.push([
        String(round + 1),
        fmt(f, 0),
        `${fmt(s, 0)} (${fmt(s / f)}×)`,
        `${fmt(u, 0)} (${fmt(u / f)}×)`,
        `${fmt(c, 0)} (${fmt(c / f)}×)`,
      ]);
    }
    return table(
      [
        'round',
        'floor rows/s',
        'store upsert rows/s (÷ floor)',
        'store upsert without key locks rows/s (÷ floor)',
        'store copies of one item (the fan-out) rows/s (÷ floor)',
      ],
      rows,
    );
  } finally {
    await db.close();
    await scratch.drop();
  }
}

/** Milliseconds per run of fn, median of ROUNDS after one warm-up. */
async function timed(fn: () => Promise<void>): Promise<number> {
  await fn();
  const ms: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return percentile(ms, 50);
}

async function pgliteCosts(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'asora-write-costs-'));
  const db = await createPgliteDb(dir, { settings: { ...EMBEDDED_PGLITE_SETTINGS } });
  try {
    await migrate(db);
    await createEmbeddedStore(db, { definitions: containerDefs });
    const pages = Array.from({ length: 10 }, () => feedPage(1000));
    const json = pages.map((p) => floorStatement(p).params[0]);
    const upserts = await Promise.all(pages.map((p) => storeStatement(p, false)));
    const RECORDS = `FROM jsonb_to_recordset($1::jsonb) AS d(pk text, id text, b jsonb)`;
    const perPage = (ms: number) => fmt(ms / pages.length, 1);
    const parse = await timed(async () => {
      for (const p of json)
        await db.query(`SELECT count(*) ${RECORDS} WHERE d.b IS NOT NULL AND d.pk IS NOT NULL`, [
          p,
        ]);
    });
    await db.exec('CREATE TABLE plain_feed (LIKE proj_userfeed INCLUDING ALL)');
    const plain = await timed(async () => {
      await db.exec('TRUNCATE plain_feed');
      for (const p of json)
        await db.query(
          `INSERT INTO plain_feed (pk, id, body, etag, ts, lsn, txid, feed_range)
           SELECT d.pk, d.id, d.b, md5(d.id), 0, nextval('proj_lsn'), pg_current_xact_id(), 0 ${RECORDS}`,
          [p],
        );
    });
    const upsert = await timed(async () => {
      await db.exec('TRUNCATE proj_userfeed');
      for (const s of upserts) await db.query(s.sql, s.params);
    });

    // Follows among 10,000 users, 20 each for 2,000 of them, in the seed's batches of 5,000.
    const users = Array.from({ length: 10_000 }, () => randomUUID());
    await db.query(
      `INSERT INTO users (id, email, password_hash)
       SELECT id, id::text || '@bench.example', 'x' FROM unnest($1::uuid[]) AS id`,
      [users],
    );
    const pairs: [string, string][] = [];
    for (const follower of users.slice(0, 2000)) {
      const chosen = new Set<string>();
      while (chosen.size < 20) {
        const followee = users[Math.floor(Math.random() * users.length)]!;
        if (followee !== follower) chosen.add(followee);
      }
      for (const followee of chosen) pairs.push([follower, followee]);
    }
    await db.exec('CREATE TABLE follows_without_fks (LIKE follows INCLUDING ALL)');
    const follows = (t: string) => async () => {
      await db.exec(`TRUNCATE ${t} CASCADE`);
      for (let i = 0; i < pairs.length; i += 5000) {
        const batch = pairs.slice(i, i + 5000);
        await db.query(
          `INSERT INTO ${t} (id, follower_id, followee_id, created_at)
           SELECT i, f, e, now() FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS x(i, f, e)`,
          [batch.map(() => randomUUID()), batch.map((p) => p[0]), batch.map((p) => p[1])],
        );
      }
    };
    const withFks = await timed(follows('follows'));
    const withoutFks = await timed(follows('follows_without_fks'));
    const perFollow = (ms: number) => fmt((ms * 1000) / pairs.length, 1);
    return [
      table(
        ['PGlite, 1,000 feed rows a statement', 'ms per statement'],
        [
          ['the JSON parameter into records only (no insert)', perPage(parse)],
          ['plain INSERT of those records', perPage(plain)],
          ["the store's version-guarded upsert (ON CONFLICT)", perPage(upsert)],
        ],
      ),
      '',
      table(
        ['PGlite, 40,000 follows in batches of 5,000', 'µs per follow'],
        [
          ['follows (two foreign keys, follower-count trigger)', perFollow(withFks)],
          ['a copy without foreign keys or trigger', perFollow(withoutFks)],
        ],
      ),
    ].join('\n');
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const server = await serverStatements();
console.log(server);
const pglite = await pgliteCosts();
console.log(pglite);
writeSection(
  'write-costs',
  'g. Where a bulk write spends its time in the database',
  `Each statement's parameters are built before the clock starts, so no Node work is timed. Server: ${STATEMENTS} statements of ${ROWS} feed rows per round, ${CONCURRENCY} at once, on a scratch database; the floor is bench/fanout.ts's raw insert with one JSON parameter. PGlite: median of ${ROUNDS} runs after a warm-up, on a fresh data directory with the embedded settings.

${server}

${pglite}`,
);
process.exit(0);
