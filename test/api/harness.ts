import type { FastifyInstance } from 'fastify';
import { type AppOptions, buildApp } from '../../src/api/app.ts';
import type { ObjectStore } from '../../src/archive/object-store.ts';
import { buildContexts } from '../../src/composition.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { DomainContext } from '../../src/domain/context.ts';
import { Health } from '../../src/observability/health.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { OpsSeries } from '../../src/observability/ops-series.ts';
import { outboxCounts } from '../../src/outbox/status.ts';
import { createPipelineWorkers, type PipelineWorkers } from '../../src/pipeline/workers.ts';
import { tableName } from '../../src/projections/embedded/schema.ts';
import { canonicalDb, type ScratchDb } from '../support/databases.ts';
import { OpenApiCheck } from '../support/openapi-check.ts';
import { embeddedStore, type TestStore } from '../support/projections.ts';

/**
 * A real API server on an ephemeral port over the embedded stores (canonical PGlite or a
 * scratch database on the PostgreSQL server; the embedded projection store), with the
 * pipeline workers so tests can drain events into the projections.
 */
export interface ApiHarness {
  base: string;
  canon: ScratchDb;
  proj: TestStore;
  ctx: DomainContext;
  app: FastifyInstance;
  workers: PipelineWorkers;
  metrics: Metrics;
  /** Every reply `call` sees is checked against the served OpenAPI document. */
  contract: OpenApiCheck;
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test replies are inspected loosely
  body: any;
}

// Quick enough for drain(), slow enough not to crowd the single PGlite connection.
const FAST = {
  leaseRenewIntervalMs: 500,
  leaseAcquireIntervalMs: 500,
  leaseExpirationIntervalMs: 5_000,
  feedPollDelayMs: 50,
  maxItemCount: 50,
  estimateIntervalMs: 0,
};

export async function startApi(
  opts: {
    fanoutFollowerThreshold?: number;
    /** The hydration read cache (default: the production default). */
    readCache?: { ttlMs: number; maxEntries: number };
    /** Serve the ops console and /ops/api, accepting this local admin token. */
    opsAdminToken?: string;
    /** false: the relay and processors wait for `workers.start()` (nothing races a fault). */
    startWorkers?: boolean;
    /** Serve /health/* and /metrics. */
    ops?: boolean;
    /** Cold storage for archived posts. */
    archive?: ObjectStore;
    app?: Partial<AppOptions>;
  } = {},
): Promise<ApiHarness> {
  const [canon, proj] = await Promise.all([canonicalDb(), embeddedStore()]);
  const threshold = opts.fanoutFollowerThreshold ?? 10_000;
  const metrics = new Metrics();
  const { domain: ctx, pipeline } = buildContexts({
    canonical: { db: canon.db, readDb: canon.db },
    store: proj.store,
    tuning: { fanoutFollowerThreshold: threshold, feedCap: 800 },
    // The production default: API reads see the cache, the harness's workers write through it.
    readCache: opts.readCache ?? loadConfig({}).readCache,
    archive: opts.archive,
    log: silentLogger,
    metrics,
  });
  const workers = createPipelineWorkers(pipeline, {
    hostName: `api-test-${process.pid}`,
    // Polling only (no LISTEN wake-up): fault tests check the state before the relay repairs it.
    relay: { pollIntervalMs: 200, baseBackoffSeconds: 1, listen: false },
    processor: FAST,
  });
  if (opts.startWorkers !== false) await workers.start();
  const app = await buildApp({
    ctx,
    jwtSecret: 'test-secret-test-secret-test-secret-1234',
    log: silentLogger,
    metrics,
    opsAdmin:
      opts.opsAdminToken === undefined
        ? undefined
        : {
            pipeline,
            workers,
            adminToken: opts.opsAdminToken,
            series: new OpsSeries(metrics, { outbox: () => outboxCounts(canon.db) }),
          },
    ops: opts.ops ? { health: new Health(), metrics } : undefined,
    ...opts.app,
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    base,
    canon,
    proj,
    ctx,
    app,
    workers,
    metrics,
    contract: new OpenApiCheck(app.swagger()),
    drain: () => workers.drain({ timeoutMs: 30_000 }),
    async close() {
      await app.close();
      await workers.stop();
      await proj.close();
      await canon.close();
    },
  };
}

export async function call(
  h: ApiHarness,
  method: string,
  path: string,
  opts: {
    token?: string;
    body?: unknown;
    raw?: string | Uint8Array;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | Uint8Array | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${h.base}${path}`, { method, headers, body });
  const text = await res.text();
  const violations = h.contract.violations(
    method,
    path,
    res.status,
    res.headers.get('content-type'),
    text,
  );
  if (violations.length > 0) throw new Error(`contract violation:\n${violations.join('\n')}`);
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // non-JSON (e.g. /docs HTML)
  }
  return { status: res.status, body: parsed };
}

export interface TestUser {
  id: string;
  email: string;
  token: string;
}

let seq = 0;
export async function register(h: ApiHarness, name: string): Promise<TestUser> {
  const email = `${name}-${process.pid}-${++seq}@example.com`;
  const r = await call(h, 'POST', '/v1/auth/register', {
    body: { email, password: 'correct horse battery', displayName: name },
  });
  if (r.status !== 201) throw new Error(`register ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.user.id, email, token: r.body.accessToken };
}

/** Promotes a user (as the database owner: the API has no route for it by design). */
export async function grantRole(h: ApiHarness, userId: string, role: 'admin' | 'moderator') {
  await h.canon.db.query('UPDATE users SET role = $2 WHERE id = $1', [userId, role]);
}

const CANONICAL_TABLES = [
  'users',
  'auth_identities',
  'profiles',
  'posts',
  'reactions',
  'follows',
  'blocks',
  'mutes',
  'moderation_cases',
  'appeals',
  'audit_log',
  'outbox',
];

/** Row counts of every canonical table and projection container: "nothing written" means equal. */
export async function rowCounts(h: ApiHarness): Promise<Record<string, number>> {
  const canonical = CANONICAL_TABLES.map((t) => `(SELECT count(*) FROM ${t})::int AS ${t}`).join(
    ', ',
  );
  // Content versions too, so an UPDATE that should not have happened shows.
  const { rows } = await h.canon.db.query<Record<string, number>>(
    `SELECT ${canonical},
            ((SELECT coalesce(sum(version), 0) FROM posts) + (SELECT coalesce(sum(version), 0) FROM profiles))::int AS versions`,
  );
  const defs = h.proj.store.definitions().filter((d) => d.name !== 'leases');
  const proj = await h.proj.db.query<Record<string, number>>(
    `SELECT ${defs.map((d) => `(SELECT count(*) FROM "${tableName(d)}")::int AS "proj:${d.name}"`).join(', ')}`,
  );
  return { ...rows[0]!, ...proj.rows[0]! };
}

/** The documented error shape. */
export function isErrorShape(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const e = (body as { error?: unknown }).error;
  if (typeof e !== 'object' || e === null) return false;
  const { code, message } = e as { code?: unknown; message?: unknown };
  return typeof code === 'string' && code.length > 0 && typeof message === 'string';
}
