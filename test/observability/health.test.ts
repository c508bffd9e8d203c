import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { beforeEach, describe, expect, it } from 'vitest';
import { opsRoutes } from '../../src/api/routes/ops.ts';
import {
  canonicalCheck,
  Health,
  type HealthReport,
  outboxBacklogCheck,
  processorsCheck,
  projectionsCheck,
  relayCheck,
  replicaLagCheck,
} from '../../src/observability/health.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { emit } from '../../src/outbox/emit.ts';
import { createEmbeddedStore } from '../../src/projections/embedded/store.ts';
import { containerDefs } from '../../src/readmodel/containers.ts';
import { engineName, scratchDb } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';

const U = '00000000-0000-4000-8000-0000000000aa';

async function serve(health: Health, metrics = new Metrics()) {
  const app = Fastify();
  // The ops routes declare zod schemas, as every route of the app does.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(opsRoutes, { health, metrics });
  return app;
}

describe(`health endpoints (${engineName})`, () => {
  const s = useCanonicalDb();
  beforeEach(async () => {
    await s.db.exec('TRUNCATE outbox RESTART IDENTITY');
  });

  const emitMany = (n: number) =>
    s.db.transaction(async (tx) => {
      for (let i = 0; i < n; i++) {
        await emit(tx, { type: 'mute', id: U }, 'mute.removed', { muterId: U, mutedId: U });
      }
    });

  it('live answers 200 without touching any dependency', async () => {
    const app = await serve(new Health({ never: () => new Promise(() => {}) }));
    const r = await app.inject('/health/live');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ok' });
    await app.close();
  });

  it('ready is 200 with per-component detail when everything is up', async () => {
    let relayRunning = true;
    const health = new Health({
      canonical: canonicalCheck(s.db),
      outbox: outboxBacklogCheck(s.db, 5),
      relay: relayCheck({ db: s.db, maxStallSeconds: 30, running: () => relayRunning }),
      processors: processorsCheck(() => ({ running: true, leasesOwned: { posts_v2: 2 } })),
      replica: replicaLagCheck(undefined),
    });
    const app = await serve(health);
    const r = await app.inject('/health/ready');
    expect(r.statusCode).toBe(200);
    const body = r.json<HealthReport>();
    expect(body.status).toBe('ok');
    expect(body.components.canonical!.status).toBe('up');
    expect(body.components.outbox!.detail).toMatchObject({ pending: 0, maxBacklog: 5 });
    expect(body.components.processors!.detail).toMatchObject({ leasesOwned: { posts_v2: 2 } });
    expect(body.components.replica!.status).toBe('not_configured');

    // An event due for longer than the bound and claimed by no one: no relay is working.
    await emitMany(1);
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    await s.db.query(`UPDATE outbox SET next_retry_at = now() - interval '45 seconds'`);
    const stale = await app.inject('/health/ready');
    expect(stale.statusCode).toBe(503);
    const sb = stale.json<HealthReport>();
    expect(sb.components.relay!.status).toBe('down');
    expect(sb.components.relay!.error).toMatch(/due and unclaimed for 4\d/);
    expect(sb.components.canonical!.status).toBe('up');
    // Claimed under a live lease: being worked, not stalled.
    await s.db.query(
      `UPDATE outbox SET claimed_by = 'r1', lease_until = now() + interval '30 seconds'`,
    );
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    relayRunning = false;
    const stopped = (await app.inject('/health/ready')).json<HealthReport>();
    expect(stopped.components.relay).toMatchObject({
      status: 'down',
      error: 'relay is not running',
    });
    await app.close();
  });

  it('ready is 503 naming the outbox when the backlog passes the bound', async () => {
    const app = await serve(
      new Health({ canonical: canonicalCheck(s.db), outbox: outboxBacklogCheck(s.db, 3) }),
    );
    await emitMany(3);
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    await emitMany(1);
    const r = await app.inject('/health/ready');
    expect(r.statusCode).toBe(503);
    const body = r.json<HealthReport>();
    expect(body.status).toBe('fail');
    expect(body.components.outbox).toMatchObject({
      status: 'down',
      detail: { pending: 4, maxBacklog: 3 },
    });
    expect(body.components.outbox!.error).toBe('outbox backlog 4 exceeds 3');
    await app.close();
  });

  it('ready is 503 naming the component whose database is gone (projection store, canonical)', async () => {
    const gone = await scratchDb();
    const store = await createEmbeddedStore(gone.db, { definitions: containerDefs });
    const health = new Health(
      {
        canonical: canonicalCheck(s.db),
        projections: projectionsCheck(store),
        processors: processorsCheck(() => ({ running: true, leasesOwned: {} })),
      },
      { timeoutMs: 1_500 },
    );
    const app = await serve(health);
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    // PGlite: the database is closed. A server: the pool is ended and the database dropped.
    await gone.close();
    const r = await app.inject('/health/ready');
    expect(r.statusCode).toBe(503);
    const body = r.json<HealthReport>();
    expect(body.components.projections!.status).toBe('down');
    expect(body.components.projections!.error).toBeTruthy();
    expect(body.components.canonical!.status).toBe('up');
    await app.close();

    // The same for canonical itself, and for processors that stopped.
    const app2 = await serve(
      new Health({
        canonical: canonicalCheck(gone.db),
        processors: processorsCheck(() => ({ running: false, leasesOwned: {} })),
      }),
    );
    const r2 = (await app2.inject('/health/ready')).json<HealthReport>();
    expect(r2.components.canonical!.status).toBe('down');
    expect(r2.components.processors).toMatchObject({
      status: 'down',
      error: 'change-feed processors are not running',
    });
    await app2.close();
    await store.close().catch(() => {});
  }, 180_000);

  it('a hung check times out: 503 in bounded time, not a hung request', async () => {
    const app = await serve(
      new Health(
        { canonical: canonicalCheck(s.db), projections: () => new Promise(() => {}) },
        { timeoutMs: 150 },
      ),
    );
    const started = Date.now();
    const r = await app.inject('/health/ready');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(r.statusCode).toBe(503);
    expect(r.json<HealthReport>().components.projections).toMatchObject({
      status: 'down',
      error: 'projections did not answer within 150 ms',
    });
    await app.close();
  });

  it('replica lag reads the replay position (0 on a primary)', async () => {
    const r = await replicaLagCheck(s.db)();
    expect(r.status).toBeUndefined();
    expect(r.detail).toMatchObject({ inRecovery: false, lagSeconds: 0 });
  });

  it('/metrics serves Prometheus text', async () => {
    const metrics = new Metrics();
    metrics.outboxPending.set(42);
    const app = await serve(new Health(), metrics);
    const r = await app.inject('/metrics');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toMatch(/^# TYPE asora_outbox_pending gauge$/m);
    expect(r.body).toMatch(/^asora_outbox_pending 42$/m);
    await app.close();
  });
});
