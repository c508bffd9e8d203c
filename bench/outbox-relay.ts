/**
 * Outbox relay burn-down vs graphile-worker, same PostgreSQL server, same run.
 *   npx tsx bench/outbox-relay.ts [--events 50000]
 * 1. Burn-down: N events (distinct aggregates) inserted up front, then the relay with a
 *    no-op apply drains them; the same for N graphile-worker no-op jobs.
 * 2. Latency: with each consumer idle and listening, events inserted one at a time; the
 *    time from just before the INSERT to the handler starting.
 */
import { Logger, run, runMigrations } from 'graphile-worker';
import { migrate } from '../src/canonical/migrations.ts';
import { createRelay } from '../src/outbox/relay.ts';
import { createPgDb } from '../src/sql/pg.ts';
import { scratchDatabase, serverVersion } from './lib/pg.ts';
import { table, writeSection } from './lib/results.ts';
import { fmt, percentile, ratio } from './lib/stats.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('events', 50_000);
const LATENCY_SAMPLES = arg('samples', 300);
const list = (name: string, def: string) =>
  (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1]! : def)
    .split(',')
    .map(Number);
const RELAYS = list('relays', '1,4');
const GW_CONCURRENCY = list('gw', '8,24');
const silent = new Logger(() => () => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Burn {
  name: string;
  seconds: number;
  perSecond: number;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

async function main() {
  const scratch = await scratchDatabase('relay');
  const db = createPgDb(scratch.url, { max: 10 });
  const results: Burn[] = [];
  const latencies: Record<string, number[]> = {};
  try {
    await migrate(db);
    await runMigrations({ connectionString: scratch.url, logger: silent });
    const version = await serverVersion(scratch.url);

    // The floor under both consumers: one durable commit per acknowledged row.
    await db.exec('CREATE TABLE commit_probe (id int PRIMARY KEY, n int NOT NULL)');
    await db.exec('INSERT INTO commit_probe VALUES (1, 0)');
    const probeStart = performance.now();
    const PROBES = 500;
    for (let i = 0; i < PROBES; i++)
      await db.query('UPDATE commit_probe SET n = n + 1 WHERE id = 1');
    const commitMs = (performance.now() - probeStart) / PROBES;

    // ---------------------------------------------------------------- relay burn-down
    for (const relays of RELAYS) {
      await db.exec('TRUNCATE outbox RESTART IDENTITY');
      await db.query(
        `INSERT INTO outbox (aggregate_type, aggregate_id, aggregate_version, event_type, payload)
         SELECT 'post', gen_random_uuid(), 1, 'post.created', '{}'::jsonb FROM generate_series(1, $1)`,
        [N],
      );
      await db.exec('VACUUM ANALYZE outbox');
      let applied = 0;
      const started = performance.now();
      const rs = Array.from({ length: relays }, () =>
        createRelay({ db, apply: async () => void applied++, pollIntervalMs: 100 }),
      );
      for (const r of rs) r.start();
      await waitUntil(
        async () =>
          applied >= N &&
          (
            await db.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL',
            )
          ).rows[0]!.n === 0,
        600_000,
      );
      const seconds = (performance.now() - started) / 1000;
      await Promise.all(rs.map((r) => r.stop()));
      results.push({
        name: `asora relay ×${relays} (batch 100, 8 in flight each)`,
        seconds,
        perSecond: N / seconds,
      });
      console.log(results.at(-1));
    }

    // ---------------------------------------------------------------- graphile burn-down
    for (const concurrency of GW_CONCURRENCY) {
      await db.exec('DELETE FROM graphile_worker._private_jobs');
      await db.query(
        `SELECT graphile_worker.add_jobs(array_agg(ROW('noop', json_build_object('i', i), NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec))
           FROM generate_series(1, $1) i`,
        [N],
      );
      await db.exec('VACUUM ANALYZE graphile_worker._private_jobs');
      let done = 0;
      const started = performance.now();
      const runner = await run({
        connectionString: scratch.url,
        concurrency,
        maxPoolSize: 10,
        noHandleSignals: true,
        pollInterval: 100,
        logger: silent,
        taskList: { noop: async () => void done++ },
      });
      await waitUntil(
        async () =>
          done >= N &&
          (
            await db.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM graphile_worker._private_jobs',
            )
          ).rows[0]!.n === 0,
        600_000,
      );
      const seconds = (performance.now() - started) / 1000;
      await runner.stop();
      results.push({
        name: `graphile-worker concurrency ${concurrency}`,
        seconds,
        perSecond: N / seconds,
      });
      console.log(results.at(-1));
    }

    // ---------------------------------------------------------------- latency
    {
      await db.exec('TRUNCATE outbox RESTART IDENTITY');
      const lat: number[] = [];
      const relay = createRelay({
        db,
        pollIntervalMs: 1000,
        apply: async (e) =>
          void lat.push(Date.now() - Number((e.payload as unknown as { t: number }).t)),
      });
      relay.start();
      await sleep(500); // LISTEN in place
      for (let i = 0; i < LATENCY_SAMPLES; i++) {
        await db.query(
          `SELECT emit_event('post', gen_random_uuid(), 'post.created', jsonb_build_object('t', $1::bigint))`,
          [Date.now()],
        );
        await sleep(10);
      }
      await waitUntil(async () => lat.length >= LATENCY_SAMPLES, 60_000);
      await relay.stop();
      latencies['asora relay (LISTEN/NOTIFY, poll 1 s)'] = lat;
    }
    {
      await db.exec('DELETE FROM graphile_worker._private_jobs');
      const lat: number[] = [];
      const runner = await run({
        connectionString: scratch.url,
        concurrency: 8,
        noHandleSignals: true,
        logger: silent,
        taskList: { noop: async (p) => void lat.push(Date.now() - Number((p as { t: number }).t)) },
      });
      await sleep(500);
      for (let i = 0; i < LATENCY_SAMPLES; i++) {
        await db.query(
          `SELECT graphile_worker.add_job('noop', json_build_object('t', $1::bigint))`,
          [Date.now()],
        );
        await sleep(10);
      }
      await waitUntil(async () => lat.length >= LATENCY_SAMPLES, 60_000);
      await runner.stop();
      latencies['graphile-worker (LISTEN/NOTIFY)'] = lat;
    }

    const relayBest = results.find((r) => r.name.startsWith('asora relay ×1'))!;
    const gwBest = results.find((r) => r.name.startsWith('graphile-worker concurrency 8'))!;
    const body = [
      `Server: ${version} on 127.0.0.1 (same machine as the benchmark process). ${N.toLocaleString('en-US')} events / jobs per burn-down, no-op handler, inserted before the consumer starts; timed from consumer start until every row is acknowledged.`,
      '',
      table(
        ['consumer', 'seconds', 'events/s', 'vs graphile-worker (concurrency 8)'],
        results.map((r) => [
          r.name,
          fmt(r.seconds, 1),
          fmt(r.perSecond, 0),
          ratio(r.perSecond, gwBest.perSecond),
        ]),
      ),
      '',
      `Insert → processing start, ${LATENCY_SAMPLES} single inserts 10 ms apart into an idle consumer (ms, from just before the INSERT is sent to the handler being called):`,
      '',
      table(
        ['consumer', 'p50 ms', 'p99 ms', 'max ms'],
        Object.entries(latencies).map(([k, v]) => [
          k,
          fmt(percentile(v, 50), 1),
          fmt(percentile(v, 99), 1),
          fmt(Math.max(...v), 1),
        ]),
      ),
      '',
      `Commit floor: one single-row UPDATE in autocommit on this server takes ${fmt(commitMs, 2)} ms sequentially (synchronous_commit on, fsync on), i.e. at most ${fmt(1000 / commitMs, 0)} sequential commits/s per connection.`,
      '',
      `Relay ×1 vs graphile-worker (concurrency 8): ${ratio(relayBest.perSecond, gwBest.perSecond)} the throughput.`,
    ].join('\n');
    writeSection('outbox-relay', 'b. Outbox relay burn-down vs graphile-worker', body);
  } finally {
    await db.close();
    await scratch.drop();
  }
}

await main();
