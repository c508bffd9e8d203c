import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { registerCollectors } from '../../src/observability/collectors.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { emit } from '../../src/outbox/emit.ts';
import { createRelay } from '../../src/outbox/relay.ts';
import { engineName } from '../support/databases.ts';
import { embeddedStore, type TestStore } from '../support/projections.ts';
import { useCanonicalDb } from '../support/use-stores.ts';
import { metricValue } from './metric-value.ts';

const A = '00000000-0000-4000-8000-0000000000a1';
const B = '00000000-0000-4000-8000-0000000000b2';

describe(`metrics move with their causes (${engineName})`, () => {
  const s = useCanonicalDb();
  let proj: TestStore;
  let metrics: Metrics;

  afterAll(async () => {
    await proj?.close();
  });
  beforeEach(async () => {
    await s.db.exec('TRUNCATE outbox RESTART IDENTITY');
    metrics = new Metrics();
    registerCollectors(metrics, { db: s.db });
  });

  const emitFor = (aggregateId: string) =>
    s.db.transaction((tx) =>
      emit(tx, { type: 'mute', id: aggregateId }, 'mute.removed', { muterId: A, mutedId: B }),
    );

  it('a processed event records outbox lag and the ok counter; pending drops to 0', async () => {
    await emitFor(A);
    await emitFor(B);
    await metrics.render();
    expect(await metricValue(metrics, 'asora_outbox_pending')).toBe(2);
    const relay = createRelay({ db: s.db, apply: async () => {}, metrics, listen: false });
    expect(await relay.runOnce()).toBe(2);
    await metrics.render();
    expect(await metricValue(metrics, 'asora_outbox_pending')).toBe(0);
    expect(
      await metricValue(metrics, 'asora_outbox_lag_seconds_count', { event_type: 'mute.removed' }),
    ).toBe(2);
    expect(
      await metricValue(metrics, 'asora_outbox_processed_total', {
        event_type: 'mute.removed',
        outcome: 'ok',
      }),
    ).toBe(2);
  });

  it('a failing event raises failed, then dead_lettered after max_retries', async () => {
    await emitFor(A);
    await s.db.query('UPDATE outbox SET max_retries = 2');
    const relay = createRelay({
      db: s.db,
      apply: async () => {
        throw new Error('projection store said no');
      },
      metrics,
      listen: false,
      baseBackoffSeconds: 0,
    });
    expect(await relay.runOnce()).toBe(1);
    await metrics.render();
    expect(await metricValue(metrics, 'asora_outbox_failed')).toBe(1);
    expect(await metricValue(metrics, 'asora_outbox_pending')).toBe(1);
    expect(
      await metricValue(metrics, 'asora_outbox_processed_total', {
        event_type: 'mute.removed',
        outcome: 'retry',
      }),
    ).toBe(1);
    expect(await relay.runOnce()).toBe(1);
    await metrics.render();
    expect(await metricValue(metrics, 'asora_outbox_dead_lettered')).toBe(1);
    expect(await metricValue(metrics, 'asora_outbox_failed')).toBe(0);
    expect(await metricValue(metrics, 'asora_outbox_pending')).toBe(0);
    expect(
      await metricValue(metrics, 'asora_outbox_processed_total', {
        event_type: 'mute.removed',
        outcome: 'dead_letter',
      }),
    ).toBe(1);
  });

  it('a projection store call adds request charge and latency for its container and operation', async () => {
    proj = await embeddedStore({ observer: metrics.storeObserver });
    const posts = proj.store.container('posts_v2');
    await posts.upsert({ id: A, postId: A, text: 'x' });
    await posts.read(A, A);
    const charge = await metricValue(metrics, 'asora_projection_request_charge_total', {
      container: 'posts_v2',
      operation: 'upsert',
    });
    expect(charge).toBeGreaterThan(0);
    const before = await metricValue(metrics, 'asora_projection_request_charge_total', {
      container: 'posts_v2',
      operation: 'read',
    });
    expect(before).toBeGreaterThan(0);
    await posts.read(A, A);
    const after = await metricValue(metrics, 'asora_projection_request_charge_total', {
      container: 'posts_v2',
      operation: 'read',
    });
    expect(after).toBeGreaterThan(before!);
    expect(
      await metricValue(metrics, 'asora_projection_request_duration_seconds_count', {
        container: 'posts_v2',
        operation: 'read',
      }),
    ).toBe(2);
  }, 120_000);
});
