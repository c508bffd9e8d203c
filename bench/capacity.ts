/**
 * Cost per user action, the inputs of the capacity model in docs/operations.md: for each
 * action (post, follow, reaction, feed page, post read, discovery page), the projection
 * store's request charge per container and the canonical PostgreSQL statements it causes,
 * including the relay's and change-feed processors' work, plus stored bytes per document.
 * Runs on the server engine (canonical and projections in two scratch databases), so the
 * canonical statements are counted apart from the projection store's.
 *   npx tsx bench/capacity.ts [--users 60] [--follows 15] [--actions 60]
 */
import pg from 'pg';
import { tableName } from '../src/projections/embedded/schema.ts';
import { benchPlatform, registerUser } from './lib/platform.ts';
import { table, writeSection } from './lib/results.ts';
import { fmt } from './lib/stats.ts';

const argv = process.argv;
const opt = (name: string, def: string) =>
  argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : def;
const USERS = Number(opt('users', '60'));
const FOLLOWS = Number(opt('follows', '15'));
const ACTIONS = Number(opt('actions', '60'));

// Count every statement the platform sends, by database (the canonical one is named asora_bench_canon_*).
interface Counts {
  statements: number;
  writes: number;
  commits: number;
}
const counts = new Map<string, Counts>();
const WRITE_RE =
  /^\s*(INSERT|UPDATE|DELETE|WITH\b[\s\S]*\b(INSERT|UPDATE|DELETE)\b|SELECT\s+emit_event)/i;
const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
const original = proto.query;
proto.query = function (this: pg.Client, ...args: unknown[]) {
  const q = args[0];
  const text = typeof q === 'string' ? q : ((q as { text?: string })?.text ?? '');
  const db = (this as unknown as { database?: string }).database ?? '?';
  const c = counts.get(db) ?? { statements: 0, writes: 0, commits: 0 };
  c.statements++;
  if (WRITE_RE.test(text)) c.writes++;
  if (/^\s*COMMIT/i.test(text)) c.commits++;
  counts.set(db, c);
  return original.apply(this, args);
};
const canonCounts = (): Counts => {
  for (const [db, c] of counts) if (db.startsWith('asora_bench_canon')) return { ...c };
  return { statements: 0, writes: 0, commits: 0 };
};

const bp = await benchPlatform('server', {
  workers: true,
  workerOptions: { processor: { feedPollDelayMs: 100 } },
});
const charges = async (): Promise<Map<string, number>> => {
  const m = await bp.platform.metrics.requestCharge.get();
  return new Map(m.values.map((v) => [`${v.labels.container}/${v.labels.operation}`, v.value]));
};
const api = async (method: string, path: string, token: string, body?: unknown) => {
  const res = await fetch(`${bp.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : ((await res.json()) as Record<string, unknown>);
};
const drain = () => bp.platform.workers!.drain({ timeoutMs: 120_000 });

type Row = { action: string; perContainer: Map<string, number>; canon: Counts };
const rows: Row[] = [];

/** Runs `n` actions, waits for the pipeline to settle, and records the cost per action. */
async function measure(action: string, n: number, run: (i: number) => Promise<unknown>) {
  await drain();
  const c0 = await charges();
  const s0 = canonCounts();
  for (let i = 0; i < n; i++) await run(i);
  await drain();
  const c1 = await charges();
  const s1 = canonCounts();
  const perContainer = new Map<string, number>();
  for (const [k, v] of c1) {
    const [container, operation] = k.split('/') as [string, string];
    // Change-feed polls and lease renewals cost the same whether or not anything changed:
    // that background cost is reported separately (see the section), not per action.
    if (operation === 'readChanges' || container === 'leases') continue;
    const d = (v - (c0.get(k) ?? 0)) / n;
    if (d > 0) perContainer.set(container, (perContainer.get(container) ?? 0) + d);
  }
  rows.push({
    action,
    perContainer,
    canon: {
      statements: (s1.statements - s0.statements) / n,
      writes: (s1.writes - s0.writes) / n,
      commits: (s1.commits - s0.commits) / n,
    },
  });
  console.log(`${action}: done`);
}

try {
  const users: { id: string; token: string }[] = [];
  for (let i = 0; i < USERS; i++) users.push(await registerUser(bp.baseUrl, `cap${i}`));
  // Each user follows FOLLOWS others (ring offsets), so every post fans out to FOLLOWS followers.
  for (let i = 0; i < USERS; i++)
    for (let k = 1; k <= FOLLOWS; k++)
      await api('PUT', `/v1/users/${users[(i + k) % USERS]!.id}/follow`, users[i]!.token);
  const posts: string[] = [];
  const u = (i: number) => users[i % USERS]!;

  await measure('post (create, fanned out to followers)', ACTIONS, async (i) => {
    const r = await api('POST', '/v1/posts', u(i).token, {
      text: `post ${i} ${'x'.repeat(200)}`,
      tags: ['bench'],
    });
    posts.push(r!.id as string);
  });
  await measure('reaction', ACTIONS, (i) =>
    api('PUT', `/v1/posts/${posts[(i * 7) % posts.length]}/reactions/like`, u(i + 3).token),
  );
  await measure('follow', ACTIONS, (i) =>
    api('PUT', `/v1/users/${u(i + FOLLOWS + 1).id}/follow`, u(i).token),
  );
  await measure('feed page (50)', ACTIONS, (i) => api('GET', '/v1/feed?limit=50', u(i).token));
  await measure('post read by id', ACTIONS, (i) =>
    api('GET', `/v1/posts/${posts[i % posts.length]}`, u(i + 1).token),
  );
  await measure('discover page (20)', ACTIONS, (i) =>
    api('GET', '/v1/discover/posts?limit=20', u(i).token),
  );
  await measure('profile read', ACTIONS, (i) =>
    api('GET', `/v1/users/${u(i + 1).id}/profile`, u(i).token),
  );

  // Idle change-feed cost: charge of readChanges per second with nothing to read.
  await drain();
  const i0 = await charges();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 5_000));
  const i1 = await charges();
  let idle = 0;
  for (const [k, v] of i1)
    if (k.endsWith('/readChanges') || k.startsWith('leases/')) idle += v - (i0.get(k) ?? 0);
  const idlePerSecond = idle / ((performance.now() - t0) / 1000);

  // Stored bytes per document (projection body) and per canonical post row.
  const projUrl = (bp.platform.config.projections as { url?: string }).url;
  const proj = new pg.Client({ connectionString: projUrl });
  await proj.connect();
  const sizes: [string, number][] = [];
  for (const def of bp.platform.store.definitions()) {
    const { rows: r } = await proj.query<{ b: string | null }>(
      `SELECT avg(pg_column_size(body))::numeric(10,0)::text AS b FROM "${tableName(def)}"`,
    );
    if (r[0]?.b) sizes.push([def.name, Number(r[0].b)]);
  }
  await proj.end();
  const { rows: pr } = await bp.ownerDb.query<{ b: string }>(
    `SELECT (pg_total_relation_size('posts') / greatest(count(*), 1))::text AS b FROM posts`,
  );

  const containers = [...new Set(rows.flatMap((r) => [...r.perContainer.keys()]))].sort();
  const body = [
    `${USERS} users each following ${FOLLOWS} others (every post fans out to ${FOLLOWS} feeds); ${ACTIONS} of each action through the HTTP API, one at a time, the pipeline drained after each batch. Request charges are the **embedded store's charge units** (src/projections/embedded/charge.ts: a deterministic model shaped like Cosmos RUs — 1 per point read, 5 + 1/KB per write, 2 + rows per query), not Cosmos measurements. Canonical figures count the statements sent to the canonical database by the API, the relay and the change-feed processors (BEGIN/COMMIT and session setup included in "statements"; "writes" are INSERT/UPDATE/DELETE and emit_event).`,
    '',
    '### Projection charge units per action, by container',
    '',
    table(
      ['action', ...containers, 'total'],
      rows.map((r) => [
        r.action,
        ...containers.map((c) => fmt(r.perContainer.get(c) ?? 0, 1)),
        fmt(
          [...r.perContainer.values()].reduce((a, b) => a + b, 0),
          1,
        ),
      ]),
    ),
    '',
    '### Canonical PostgreSQL statements per action',
    '',
    table(
      ['action', 'statements', 'write statements', 'commits'],
      rows.map((r) => [
        r.action,
        fmt(r.canon.statements, 1),
        fmt(r.canon.writes, 1),
        fmt(r.canon.commits, 1),
      ]),
    ),
    '',
    `Background (change-feed polls and lease renewals, nothing to read): ${fmt(idlePerSecond, 1)} charge units/s in total, with every lease polling every 100 ms in this run (production: every 5 s on Cosmos, every 1 s embedded).`,
    '',
    '### Stored bytes',
    '',
    table(
      ['what', 'bytes (average)'],
      [
        ...sizes.map(([n, b]) => [`${n} document body`, fmt(b, 0)] as [string, string]),
        ['canonical posts row incl. indexes and TOAST', fmt(Number(pr[0]?.b ?? 0), 0)],
      ],
    ),
  ].join('\n');
  writeSection('capacity', 'Cost per user action (inputs of the capacity model)', body);
} finally {
  await bp.close();
}
