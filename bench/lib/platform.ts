import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { PipelineContext } from '../../src/pipeline/context.ts';
import type { PipelineWorkerOptions } from '../../src/pipeline/workers.ts';
import { createPlatform, type Platform } from '../../src/platform.ts';
import type { Db } from '../../src/sql/db.ts';
import { createPgDb } from '../../src/sql/pg.ts';
import { scratchDatabase } from './pg.ts';

export type Engine = 'embedded' | 'server';

export interface BenchPlatform {
  engine: Engine;
  platform: Platform;
  baseUrl: string;
  pipeline: PipelineContext;
  /**
   * The canonical database as its owner, for seeding: the serving pools log in as roles
   * that own nothing (asora_api_login, asora_worker_login) and may not write rows directly.
   */
  ownerDb: Db;
  close(): Promise<void>;
}

/**
 * The real platform for a benchmark: `embedded` = PGlite for canonical and projections in a
 * temporary DATA_DIR (what `npm start` runs); `server` = canonical and the embedded
 * projection store in two scratch databases on the loopback PostgreSQL server.
 */
export async function benchPlatform(
  engine: Engine,
  opts: { workers: boolean; env?: Record<string, string>; workerOptions?: PipelineWorkerOptions },
): Promise<BenchPlatform> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'asora-bench-'));
  const drops: (() => Promise<void>)[] = [];
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    // The per-token abuse limit (600/min) would turn a load run into 429s after a second.
    RATE_LIMIT_MAX: '1000000000',
    ...opts.env,
  };
  if (engine === 'server') {
    const canon = await scratchDatabase('canon');
    const proj = await scratchDatabase('proj');
    drops.push(canon.drop, proj.drop);
    Object.assign(env, {
      DATABASE_URL: canon.url,
      PROJECTIONS_DATABASE_URL: proj.url,
      JWT_SECRET: 'b'.repeat(48),
    });
  }
  const config = loadConfig(env);
  const platform = await createPlatform(config, {
    api: true,
    workers: opts.workers,
    log: silentLogger,
    workerOptions: opts.workerOptions,
  });
  const address = await platform.listen();
  const ownerDb = engine === 'server' ? createPgDb(env.DATABASE_URL!) : platform.canonical.db;
  if (engine === 'server') drops.unshift(() => ownerDb.close());
  return {
    engine,
    platform,
    baseUrl: address,
    ownerDb,
    pipeline: {
      db: platform.canonical.workerDb,
      readDb: platform.canonical.readDb,
      store: platform.store,
      fanoutFollowerThreshold: config.pipeline.fanoutFollowerThreshold,
      feedCap: config.pipeline.feedCap,
      log: silentLogger,
      metrics: platform.metrics,
    },
    async close() {
      await platform.close();
      for (const d of drops) await d().catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers a user over HTTP; returns its id and bearer token. */
export async function registerUser(
  baseUrl: string,
  name: string,
): Promise<{ id: string; token: string }> {
  const res = await fetch(`${baseUrl}/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `${name}-${Math.random().toString(36).slice(2, 8)}@bench.test`,
      password: 'bench-password-1',
      displayName: name,
    }),
  });
  if (res.status !== 201)
    throw new Error(`register ${name}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { user: { id: string }; accessToken: string };
  return { id: body.user.id, token: body.accessToken };
}
