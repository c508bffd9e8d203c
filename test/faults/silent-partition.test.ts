import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createPlatform, type Platform } from '../../src/platform.ts';
import {
  anyServerUrl,
  engineName,
  type ScratchDb,
  scratchDb,
  serverUrl,
} from '../support/databases.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const API_TIMEOUT_MS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Reply {
  status: number;
  ms: number;
  // biome-ignore lint/suspicious/noExplicitAny: replies are inspected loosely
  body: any;
  headers: Headers;
}

/**
 * The silent partition: the embedded projection store (a PostgreSQL server, reached through
 * a TCP proxy) stops answering without closing anything. Every API call must still answer
 * within its deadline, readiness must fail, reads must come back within 5 s of the network
 * healing, and nothing committed may be lost or doubled.
 */
describe(`silent partition of the projection store (canonical on ${engineName})`, () => {
  let platform: Platform;
  let proxy: TcpProxy;
  let projections: ScratchDb;
  let canonical: ScratchDb | undefined;
  let dataDir: string;
  let base: string;

  const call = async (
    method: string,
    url: string,
    opts: { token?: string; body?: unknown; key?: string } = {},
  ): Promise<Reply> => {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.key) headers['idempotency-key'] = opts.key;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const started = performance.now();
    const res = await fetch(`${base}${url}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return {
      status: res.status,
      ms: performance.now() - started,
      body: text ? JSON.parse(text) : null,
      headers: res.headers,
    };
  };

  beforeAll(async () => {
    projections = await scratchDb({ server: anyServerUrl });
    const target = new URL(projections.url!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(projections.url!);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    if (serverUrl) canonical = await scratchDb();
    dataDir = await mkdtemp(path.join(tmpdir(), 'asora-partition-'));
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ...(canonical ? { DATABASE_URL: canonical.url } : {}),
      PROJECTIONS_DATABASE_URL: viaProxy.toString(),
      JWT_SECRET: 'partition-test-secret-partition-test-secret',
      API_STORE_TIMEOUT_MS: String(API_TIMEOUT_MS),
      WORKER_STORE_TIMEOUT_MS: '3000',
      STORE_BREAKER_COOLDOWN_MS: '500',
      CHANGEFEED_POLL_MS: '100',
      DATABASE_POOL_MAX: '4',
    });
    platform = await createPlatform(config, {
      api: true,
      workers: true,
      log: silentLogger,
      workerOptions: {
        hostName: `partition-${process.pid}`,
        relay: { pollIntervalMs: 100, baseBackoffSeconds: 1 },
      },
    });
    base = await platform.listen();
  }, 120_000);

  afterAll(async () => {
    proxy?.heal();
    await platform?.close();
    await proxy?.close();
    await projections?.close();
    await canonical?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Calls again every 100 ms while the answer is not 200, until 10 s after `since`. */
  const until200 = async (request: () => Promise<Reply>, since: number): Promise<Reply> => {
    let r = await request();
    while (r.status !== 200 && performance.now() - since < 10_000) {
      await sleep(100);
      r = await request();
    }
    return r;
  };

  it('answers within the deadline, fails readiness, recovers within 5 s, loses nothing', async () => {
    const reg = await call('POST', '/v1/auth/register', {
      body: {
        email: `p-${process.pid}@example.com`,
        password: 'correct horse battery',
        displayName: 'P',
      },
    });
    expect(reg.status).toBe(201);
    const token: string = reg.body.accessToken;
    const before = await call('POST', '/v1/posts', { token, body: { text: 'before' } });
    expect(before.status).toBe(201);
    await platform.workers!.drain({ timeoutMs: 30_000 });
    expect((await call('GET', '/v1/feed', { token })).status).toBe(200);
    expect((await call('GET', '/health/ready')).status).toBe(200);

    proxy.partition();

    // Reads served by the projections: a fast 503, never a hang.
    const bound = API_TIMEOUT_MS + 1_500;
    const partitioned: number[] = [];
    for (const url of ['/v1/feed', `/v1/posts/${before.body.id}`, '/v1/notifications']) {
      const r = await call('GET', url, { token });
      expect(r.status, url).toBe(503);
      expect(r.body.error.code).toBe('unavailable');
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.ms, url).toBeLessThan(bound);
      partitioned.push(r.ms);
    }
    const ready = await call('GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.components.projections.status).toBe('down');
    expect(ready.ms).toBeLessThan(bound);

    // Writes that commit canonically succeed, and the documented-canonical read answers.
    const created = await call('POST', '/v1/posts', {
      token,
      key: 'partition-post-1',
      body: { text: 'during the partition' },
    });
    expect(created.status).toBe(201);
    expect(created.ms).toBeLessThan(bound);
    // The client never heard back (say): it retries with the same key and gets the same post.
    const retried = await call('POST', '/v1/posts', {
      token,
      key: 'partition-post-1',
      body: { text: 'during the partition' },
    });
    expect(retried.status).toBe(201);
    expect(retried.body.id).toBe(created.body.id);
    const patched = await call('PATCH', '/v1/me/profile', { token, body: { bio: 'partitioned' } });
    expect(patched.status).toBe(200);
    expect(patched.body.bio).toBe('partitioned');
    const me = await call('GET', '/v1/me', { token });
    expect(me.status).toBe(200);
    expect(me.body.profile.bio).toBe('partitioned');

    proxy.heal();
    const healedAt = performance.now();
    const feed = await until200(() => call('GET', '/v1/feed', { token }), healedAt);
    expect(feed.status).toBe(200);
    const readsMs = performance.now() - healedAt;
    expect(readsMs).toBeLessThan(5_000);
    const readyAgain = await until200(() => call('GET', '/health/ready'), healedAt);
    expect(readyAgain.status).toBe(200);
    // Readiness also waits on the workers' checks (their own, longer deadlines).
    const readyMs = performance.now() - healedAt;
    expect(readyMs).toBeLessThan(10_000);

    console.info(
      `silent partition: 503s in ${partitioned.map((ms) => Math.round(ms)).join('/')} ms ` +
        `(deadline ${API_TIMEOUT_MS} ms), readiness down in ${Math.round(ready.ms)} ms, ` +
        `POST 201 in ${Math.round(created.ms)} ms; after healing reads in ${Math.round(readsMs)} ms, ` +
        `readiness in ${Math.round(readyMs)} ms`,
    );

    // Nothing committed is lost, nothing doubled: the relay retries what failed (after its
    // backoff) and the pipeline repairs the projections.
    const outboxLeft = async () =>
      (
        await platform.canonical.workerDb.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL AND dead_lettered_at IS NULL',
        )
      ).rows[0]!.n;
    const retryUntil = Date.now() + 30_000;
    while ((await outboxLeft()) > 0 && Date.now() < retryUntil) await sleep(200);
    expect(await outboxLeft()).toBe(0);
    await platform.workers!.drain({ timeoutMs: 30_000 });
    const mine = await call('GET', `/v1/users/${reg.body.user.id}/posts`, { token });
    expect(mine.status).toBe(200);
    expect(mine.body.items.map((p: { text: string }) => p.text).sort()).toEqual([
      'before',
      'during the partition',
    ]);
    const { rows } = await platform.canonical.workerDb.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM posts',
    );
    expect(rows[0]!.n).toBe(2);
    // As a client would: a 503 (a read past its 1 s deadline on a loaded machine) is retried.
    const profile = await until200(
      () => call('GET', `/v1/users/${reg.body.user.id}/profile`, { token }),
      performance.now(),
    );
    expect(profile.body.bio, JSON.stringify(profile.body)).toBe('partitioned');
  }, 90_000);
});
