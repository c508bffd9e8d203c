/**
 * The embedded process's scheduled ANALYZE, and how long a request waits behind it. PGlite
 * runs one statement at a time, so while the schedule's statement runs every query waits.
 * On a DATA_DIR seeded by `asora seed` (compiled build; `npm run build` first), three
 * operations, each while a probe sends one feed page read after another and records how
 * long each waited:
 *   1. `ANALYZE` of the whole database (the schedule before this change);
 *   2. analyzeStale on a quiet database (the schedule now: tables past autovacuum's rule);
 *   3. analyzeStale after a burst that changed a fifth of the notifications.
 *   npx tsx bench/analyze-schedule.ts [--users 10000] [--rounds 3] [--data-dir DIR]
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/config.ts';
import { ANY_CHANGE, analyzeStale } from '../src/sql/analyze.ts';
import type { Db } from '../src/sql/db.ts';
import { openEmbeddedCanonical } from '../src/sql/embedded-db.ts';
import { table, writeSection } from './lib/results.ts';
import { fmt, percentile } from './lib/stats.ts';

const argv = process.argv;
const opt = (name: string, def: string) =>
  argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : def;
const USERS = Number(opt('users', '10000'));
const ROUNDS = Number(opt('rounds', '3'));
const GIVEN_DIR = opt('data-dir', '');
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

async function seededDir(): Promise<{ dir: string; seedSeconds: number }> {
  if (GIVEN_DIR) return { dir: path.resolve(GIVEN_DIR), seedSeconds: Number.NaN };
  if (!existsSync(path.join(ROOT, 'dist')))
    throw new Error('bench/analyze-schedule.ts seeds with the compiled CLI: run `npm run build`');
  const dir = await mkdtemp(path.join(tmpdir(), 'asora-analyze-'));
  const t0 = performance.now();
  execFileSync(
    process.execPath,
    ['bin/asora.mjs', 'seed', '--users', String(USERS), '--follows-per-user', '20'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        DATA_DIR: dir,
        JWT_SECRET: 'bench-analyze-schedule-secret-0123456789',
      },
      stdio: 'ignore',
    },
  );
  return { dir, seedSeconds: (performance.now() - t0) / 1000 };
}

interface Probed {
  /** The operation's own duration. */
  ms: number;
  /** The longest any probe read waited (queued behind the operation, then ran). */
  worstWaitMs: number;
  probes: number;
}

/** Runs `op` while probe reads go one after another; how long the slowest one took. */
async function probed(db: Db, recipients: string[], op: () => Promise<unknown>): Promise<Probed> {
  let done = false;
  let worst = 0;
  let probes = 0;
  const probe = (async () => {
    while (!done) {
      const t0 = performance.now();
      await db.query(
        `SELECT body FROM proj_userfeed WHERE pk = $1
          ORDER BY (body ->> 'createdAt') COLLATE "C" DESC, id DESC LIMIT 20`,
        [recipients[probes % recipients.length]],
      );
      worst = Math.max(worst, performance.now() - t0);
      probes++;
    }
  })();
  const t0 = performance.now();
  await op();
  const ms = performance.now() - t0;
  done = true;
  await probe;
  return { ms, worstWaitMs: worst, probes };
}

const { dir, seedSeconds } = await seededDir();
const db = await openEmbeddedCanonical(loadConfig({ DATA_DIR: dir }));
try {
  const { rows: recipients } = await db.query<{ pk: string }>(
    'SELECT DISTINCT pk FROM proj_userfeed LIMIT 200',
  );
  const pks = recipients.map((r) => r.pk);
  const { rows: sizes } = await db.query<{ t: string; n: number }>(
    `SELECT relname AS t, reltuples::int AS n FROM pg_class WHERE relkind = 'r'
      ORDER BY reltuples DESC LIMIT 3`,
  );
  await analyzeStale(db, ANY_CHANGE); // start from fresh statistics
  const runs: Record<string, Probed[]> = { full: [], quiet: [], burst: [] };
  const analyzed: string[][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    runs.full!.push(await probed(db, pks, () => db.exec('ANALYZE')));
    runs.quiet!.push(await probed(db, pks, () => analyzeStale(db)));
    // A burst: a fifth of the notifications rewritten (past the 10% rule), then the schedule.
    await db.exec(`UPDATE proj_notifications SET ts = ts + 1 WHERE random() < 0.2`);
    let names: string[] = [];
    runs.burst!.push(
      await probed(db, pks, async () => {
        names = await analyzeStale(db);
      }),
    );
    analyzed.push(names);
  }
  const med = (xs: Probed[], k: keyof Probed) =>
    percentile(
      xs.map((x) => x[k]),
      50,
    );
  const row = (label: string, xs: Probed[]) => [
    label,
    fmt(med(xs, 'ms'), 0),
    fmt(med(xs, 'worstWaitMs'), 0),
    fmt(med(xs, 'probes'), 0),
  ];
  const body = [
    `Data: ${GIVEN_DIR ? `the given DATA_DIR` : `\`asora seed --users ${USERS} --follows-per-user 20\` (${fmt(seedSeconds, 1)} s)`}; largest tables ${sizes.map((s) => `${s.t} ${s.n.toLocaleString('en-US')} rows`).join(', ')}. Median of ${ROUNDS} rounds. The probe reads one feed page (20 items) of one of 200 recipients, one read after another, while the operation runs; its worst wait is what a request arriving at the worst moment waits.`,
    '',
    table(
      ['operation', 'ms', 'worst probe wait (ms)', 'probes served meanwhile'],
      [
        row('`ANALYZE`, the whole database (the schedule before)', runs.full!),
        row('analyzeStale, quiet database (the schedule now, every minute)', runs.quiet!),
        row('analyzeStale after a fifth of the notifications changed', runs.burst!),
      ],
    ),
    '',
    `Tables analyzed after the burst: ${[...new Set(analyzed.flat())].join(', ') || 'none'}.`,
  ].join('\n');
  writeSection(
    'analyze-schedule',
    "h. PGlite's scheduled ANALYZE and the requests behind it",
    body,
  );
  console.log(body);
} finally {
  await db.close();
  if (!GIVEN_DIR) await rm(dir, { recursive: true, force: true });
}
