import { describe, expect, it } from 'vitest';
import type { Output } from '../../src/ops/output.ts';
import { reconcile, totalDrift } from '../../src/ops/reconcile/index.ts';
import { buildSeedProjections } from '../../src/ops/seed/projections.ts';
import { seed } from '../../src/ops/seed.ts';
import { outboxCounts, replayOutbox } from '../../src/outbox/status.ts';
import { createPostFanoutHandler } from '../../src/pipeline/changes/posts-fanout.ts';
import { createReactionHandler } from '../../src/pipeline/changes/reactions.ts';
import type { PipelineContext } from '../../src/pipeline/context.ts';
import { createPipelineWorkers } from '../../src/pipeline/workers.ts';
import type { Stored } from '../../src/projections/port.ts';
import { CONTAINERS } from '../../src/readmodel/documents.ts';
import { Canon } from '../support/canon.ts';
import { engineName } from '../support/databases.ts';
import { dump, dumpAll, feedOf, pipelineContext } from '../support/pipeline.ts';
import { useCanonicalDb, useEmbeddedStore } from '../support/use-stores.ts';

const quiet: Output = { log() {}, error() {}, interactive: false };
const FAST = {
  leaseRenewIntervalMs: 500,
  leaseAcquireIntervalMs: 500,
  leaseExpirationIntervalMs: 5_000,
  feedPollDelayMs: 50,
  maxItemCount: 100,
};

/** Applies every outbox event again with the real relay and change-feed processors. */
async function replayThroughPipeline(ctx: PipelineContext): Promise<number> {
  const n = await replayOutbox(ctx.db);
  const workers = createPipelineWorkers(ctx, {
    hostName: `seed-test-${process.pid}`,
    // Events of one followee contend on its counters; a handler that gives up retries soon.
    relay: { pollIntervalMs: 50, listen: false, baseBackoffSeconds: 0.1 },
    processor: FAST,
  });
  await workers.start();
  try {
    // drain() does not wait for an event in retry backoff: run until none is pending at all.
    const deadline = Date.now() + 240_000;
    do {
      await workers.drain({ timeoutMs: 240_000 });
      if (Date.now() > deadline) throw new Error('outbox events still pending after 240 s');
    } while ((await outboxCounts(ctx.db)).pending > 0);
  } finally {
    await workers.stop();
  }
  return n;
}

describe(`asora seed builds the projections in bulk (${engineName})`, () => {
  const canon = useCanonicalDb();
  const bulk = useEmbeddedStore();
  const piped = useEmbeddedStore();

  it('equals what the pipeline builds from the same events; reconcile finds no drift; a replay changes nothing', async () => {
    const ctx = pipelineContext(canon.db, bulk.store);
    const r = await seed(
      ctx,
      {
        users: 50,
        followsPerUser: 6,
        postsPerUser: 3,
        reactions: 120,
        password: 'seed-password',
        projections: true,
      },
      quiet,
    );
    expect(r).toMatchObject({ follows: 300, posts: 150, reactions: 120 });
    expect(r.eventIds).toHaveLength(50 + 300 + 150 + 120);
    // Every seeded event is in the outbox, delivered: nothing left for a relay.
    expect(await outboxCounts(canon.db)).toMatchObject({ pending: 0, deadLettered: 0 });
    const processed = await canon.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NOT NULL',
    );
    expect(processed.rows[0]!.n).toBe(r.eventIds.length);

    const report = await reconcile(ctx, { repair: false });
    expect(totalDrift(report)).toBe(0);
    expect(report.feeds.checked).toBe(50);
    const built = await dumpAll(bulk.store);
    expect(built[CONTAINERS.userFeed]!.length).toBeGreaterThan(50 * 3);
    expect(built[CONTAINERS.notifications]!.length).toBeGreaterThan(300);

    // The pipeline, from the same events, into an empty store: the same documents.
    expect(await replayThroughPipeline(pipelineContext(canon.db, piped.store))).toBe(
      r.eventIds.length,
    );
    expect(await dumpAll(piped.store)).toEqual(built);

    // Replaying the events onto the bulk-built store changes nothing, and so does the
    // change-feed handlers seeing every seeded post and reaction (as processors that
    // were running during the seed would).
    await replayThroughPipeline(ctx);
    await createPostFanoutHandler(ctx)((await dump(bulk.store, CONTAINERS.posts)) as Stored[]);
    await createReactionHandler(ctx)((await dump(bulk.store, CONTAINERS.reactions)) as Stored[]);
    expect(await dumpAll(bulk.store)).toEqual(built);
    expect(totalDrift(await reconcile(ctx, { repair: false }))).toBe(0);
  }, 600_000);

  it('feeds take posts the post docs phase did not read (an author outside the seeded users)', async () => {
    const ctx = pipelineContext(canon.db, bulk.store);
    const r = await seed(
      ctx,
      {
        users: 5,
        followsPerUser: 2,
        postsPerUser: 2,
        reactions: 0,
        password: 'seed-password',
        projections: true,
      },
      quiet,
    );
    // A seeded user follows an account the seed did not create, which has posted.
    const c = new Canon(canon.db);
    const outsider = await c.user('outsider');
    const post = await c.post(outsider, 'from outside the seed', { ageSeconds: 1 });
    const reader = r.userIds[0]!;
    await canon.db.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [
      reader,
      outsider,
    ]);
    await buildSeedProjections(ctx, r, quiet);
    expect(await feedOf(bulk.store, reader)).toContain(post.id);
    expect(await feedOf(bulk.store, r.userIds[1]!)).not.toContain(post.id);
  }, 600_000);
});
