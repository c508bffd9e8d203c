/**
 * Memory of the embedded process as `npm start` runs it (a child process, sampled from
 * /proc every 100 ms: RSS, and the kernel's high-water mark VmHWM):
 *   1. the very first start on an empty DATA_DIR, then idle;
 *   2. a restart with an author and N followers (written straight into the canonical
 *      PGlite between the runs), idle, then one post fanned out to every follower.
 *   npx tsx bench/embedded-memory.ts [--followers 10000] [--idle-seconds 30]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/config.ts';
import { hashPassword } from '../src/domain/password.ts';
import { openEmbeddedCanonical } from '../src/sql/embedded-db.ts';
import { table, writeSection } from './lib/results.ts';
import { fmt } from './lib/stats.ts';

const argv = process.argv;
const opt = (name: string, def: string) =>
  argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : def;
const FOLLOWERS = Number(opt('followers', '10000'));
const IDLE_S = Number(opt('idle-seconds', '30'));
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PASSWORD = 'bench-password-1';

function status(pid: number): { rss: number; hwm: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

interface Run {
  pid: number;
  url: Promise<string>;
  stop(): Promise<void>;
  peak(): number;
  mark(): void;
  peakSinceMark(): number;
}

/** The node options `npm start` passes (package.json's start script: `exec node <options> bin/asora.mjs start`). */
function startNodeOptions(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const m = /\bnode\s+(.*?)\s*bin\/asora\.mjs start\b/.exec(pkg.scripts.start ?? '');
  if (!m) throw new Error(`unexpected start script: ${pkg.scripts.start}`);
  return m[1] ? m[1].split(/\s+/) : [];
}

/** What `npm start` runs (node with its options, bin/asora.mjs start) on DATA_DIR, sampled every 100 ms. */
function start(dataDir: string): Run {
  const args = [...startNodeOptions(), path.join(ROOT, 'bin/asora.mjs'), 'start'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let peak = 0;
  let sincePeak = 0;
  const timer = setInterval(() => {
    const s = status(child.pid!);
    peak = Math.max(peak, s.hwm, s.rss);
    sincePeak = Math.max(sincePeak, s.rss);
  }, 100);
  const url = new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"address":"([^"]+)"|listening[^\n]*?(http:\/\/[^\s"]+)/.exec(buf);
      if (m) resolve((m[1] ?? m[2])!);
    });
    child.on('exit', (code) => reject(new Error(`asora start exited (${code})`)));
  });
  return {
    pid: child.pid!,
    url,
    peak: () => Math.max(peak, status(child.pid!).hwm),
    mark: () => {
      sincePeak = status(child.pid!).rss;
    },
    peakSinceMark: () => sincePeak,
    async stop() {
      clearInterval(timer);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function idleRss(run: Run): Promise<number> {
  await sleep(IDLE_S * 1000);
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    samples.push(status(run.pid).rss);
    await sleep(200);
  }
  return samples.reduce((a, b) => a + b, 0) / samples.length;
}

async function api<T>(url: string, method: string, body?: unknown, token?: string): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status >= 300)
    throw new Error(`${method} ${url}: HTTP ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

const dataDir = await mkdtemp(path.join(tmpdir(), 'asora-mem-'));
try {
  // 1. The very first start.
  const t0 = performance.now();
  const first = start(dataDir);
  const base = await first.url;
  const firstReadyS = (performance.now() - t0) / 1000;
  const author = await api<{ user: { id: string }; accessToken: string }>(
    `${base}/v1/auth/register`,
    'POST',
    { email: 'mem-author@bench.test', password: PASSWORD, displayName: 'author' },
  );
  const firstIdle = await idleRss(first);
  const firstPeak = first.peak();
  await first.stop();

  // Followers straight into canonical (the process is stopped: PGlite is single-process).
  // The last follower by id (the fan-out's last page) gets a password to read its feed.
  const db = await openEmbeddedCanonical(loadConfig({ DATA_DIR: dataDir }));
  const hash = await hashPassword(PASSWORD);
  await db.query(
    `WITH u AS (INSERT INTO users (email, password_hash)
                SELECT 'mem-f-' || g || '@bench.test', $3 FROM generate_series(1, $1) g RETURNING id, email)
     , a AS (INSERT INTO auth_identities (user_id, provider, provider_subject) SELECT id, 'email', email FROM u)
     INSERT INTO follows (follower_id, followee_id) SELECT id, $2 FROM u`,
    [FOLLOWERS, author.user.id, hash],
  );
  const { rows } = await db.query<{ email: string }>(
    `SELECT u.email FROM follows f JOIN users u ON u.id = f.follower_id
      WHERE f.followee_id = $1 ORDER BY f.follower_id DESC LIMIT 1`,
    [author.user.id],
  );
  await db.close();
  const lastEmail = rows[0]!.email;

  // 2. Restart, idle, then one post to every follower.
  const second = start(dataDir);
  const base2 = await second.url;
  const idle2 = await idleRss(second);
  const login = async (email: string) =>
    (
      await api<{ accessToken: string }>(`${base2}/v1/auth/login`, 'POST', {
        email,
        password: PASSWORD,
      })
    ).accessToken;
  const authorToken = await login('mem-author@bench.test');
  const lastToken = await login(lastEmail);
  second.mark();
  const sent = performance.now();
  const post = await api<{ id: string }>(
    `${base2}/v1/posts`,
    'POST',
    { text: 'to everyone' },
    authorToken,
  );
  let delivered = 0;
  for (;;) {
    const feed = await api<{ items: { id?: string; postId?: string }[] }>(
      `${base2}/v1/feed?limit=5`,
      'GET',
      undefined,
      lastToken,
    );
    if (feed.items.some((i) => (i.postId ?? i.id) === post.id)) {
      delivered = performance.now() - sent;
      break;
    }
    if (performance.now() - sent > 300_000) throw new Error('fan-out not visible after 5 minutes');
    await sleep(100);
  }
  const fanoutPeak = second.peakSinceMark();
  const secondPeak = second.peak();
  await second.stop();

  console.log({ firstReadyS, firstIdle, firstPeak, idle2, fanoutPeak, secondPeak, delivered });
  writeSection(
    'embedded-memory',
    'e. Memory of the embedded process (`npm start`)',
    [
      `\`node ${startNodeOptions().join(' ')} bin/asora.mjs start\` (what \`npm start\` runs) as a child process on a fresh DATA_DIR, sampled from /proc every 100 ms; idle = mean of 10 samples after ${IDLE_S} s without requests; peak = the kernel's VmHWM of the process. Between the runs ${FOLLOWERS.toLocaleString('en-US')} followers of one author are written straight into the canonical PGlite; then one post (POST /v1/posts) is fanned out and the last follower's GET /v1/feed polled until it shows.`,
      '',
      table(
        ['run', 'ready after (s)', 'idle RSS (MB)', 'peak RSS (MB)'],
        [
          [
            'first start (empty DATA_DIR)',
            fmt(firstReadyS, 1),
            fmt(firstIdle, 0),
            fmt(firstPeak, 0),
          ],
          [
            `restart, then a ${FOLLOWERS.toLocaleString('en-US')}-follower fan-out (visible to the last follower after ${fmt(delivered / 1000, 2)} s)`,
            '',
            fmt(idle2, 0),
            `${fmt(fanoutPeak, 0)} during the fan-out (${fmt(secondPeak, 0)} whole run)`,
          ],
        ],
      ),
    ].join('\n'),
  );
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
process.exit(0);
