import { beforeEach, describe, expect, it } from 'vitest';
import { registerCollectors } from '../../src/observability/collectors.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { emit } from '../../src/outbox/emit.ts';
import { engineName } from '../support/databases.ts';
import { useCanonicalDb } from '../support/use-stores.ts';
import { metricValue } from './metric-value.ts';

const POST = '00000000-0000-4000-8000-000000000001';

describe(`scrape-time collectors (${engineName})`, () => {
  const s = useCanonicalDb();
  let metrics: Metrics;

  beforeEach(async () => {
    await s.db.exec('TRUNCATE outbox RESTART IDENTITY');
    metrics = new Metrics();
    registerCollectors(metrics, {
      db: s.db,
      estimateLag: async () => [{ container: 'posts_v2', lease: 'posts_v2:0', lag: 7 }],
    });
  });

  const emitOne = (n = 1) =>
    s.db.transaction(async (tx) => {
      for (let i = 0; i < n; i++) {
        await emit(
          tx,
          { type: 'follow', id: `00000000-0000-4000-8000-00000000010${i}` },
          'follow.removed',
          {
            followerId: POST,
            followeeId: POST,
          },
        );
      }
    });

  it('an event left pending raises the pending gauge and the oldest-pending age', async () => {
    await metrics.render();
    expect(await metricValue(metrics, 'asora_outbox_pending')).toBe(0);
    expect(await metricValue(metrics, 'asora_outbox_oldest_pending_age_seconds')).toBe(0);
    await emitOne(3);
    await s.db.query(`UPDATE outbox SET created_at = now() - interval '90 seconds' WHERE id = 1`);
    const text = await metrics.render();
    expect(text).toMatch(/^asora_outbox_pending 3$/m);
    const age = await metricValue(metrics, 'asora_outbox_oldest_pending_age_seconds');
    expect(age).toBeGreaterThanOrEqual(89);
    expect(age).toBeLessThan(200);
  });

  it('a failed event raises failed; a dead-lettered one moves from pending to dead_lettered', async () => {
    await emitOne(2);
    await s.db.query(`UPDATE outbox SET retry_count = 1, last_error = 'boom' WHERE id = 1`);
    await metrics.render();
    expect(await metricValue(metrics, 'asora_outbox_failed')).toBe(1);
    expect(await metricValue(metrics, 'asora_outbox_dead_lettered')).toBe(0);
    await s.db.query(`UPDATE outbox SET dead_lettered_at = now() WHERE id = 1`);
    await s.db.query(`UPDATE outbox SET processed_at = now() WHERE id = 2`);
    await metrics.render();
    expect(await metricValue(metrics, 'asora_outbox_pending')).toBe(0);
    expect(await metricValue(metrics, 'asora_outbox_failed')).toBe(0);
    expect(await metricValue(metrics, 'asora_outbox_dead_lettered')).toBe(1);
  });

  it('reports pool sizes and change-feed lag per lease', async () => {
    await s.db.query('SELECT 1');
    const text = await metrics.render();
    expect(text).toMatch(/^asora_pg_pool_connections\{pool="primary",state="total"\} [1-9]\d*$/m);
    expect(text).toMatch(/^asora_pg_pool_connections\{pool="primary",state="idle"\} \d+$/m);
    expect(text).toMatch(/^asora_pg_pool_connections\{pool="primary",state="waiting"\} \d+$/m);
    expect(
      await metricValue(metrics, 'asora_changefeed_estimated_lag', { lease: 'posts_v2:0' }),
    ).toBe(7);
  });

  it('a failing source is counted and the scrape still answers', async () => {
    const broken = new Metrics();
    registerCollectors(broken, {
      db: s.db,
      estimateLag: () => Promise.reject(new Error('store down')),
    });
    const text = await broken.render();
    expect(text).toContain('asora_outbox_pending 0');
    expect(
      await metricValue(broken, 'asora_metrics_collector_errors_total', {
        collector: 'changefeed',
      }),
    ).toBe(1);
  });

  it('a hung source times out instead of hanging the scrape', async () => {
    const hung = new Metrics();
    registerCollectors(hung, {
      db: s.db,
      timeoutMs: 100,
      estimateLag: () => new Promise(() => {}),
    });
    const started = Date.now();
    await hung.render();
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(
      await metricValue(hung, 'asora_metrics_collector_errors_total', { collector: 'changefeed' }),
    ).toBe(1);
  });
});
