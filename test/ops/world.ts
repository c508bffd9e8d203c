import { randomUUID } from 'node:crypto';
import type { PipelineContext } from '../../src/pipeline/context.ts';
import { createPipelineWorkers } from '../../src/pipeline/workers.ts';
import { FAST } from '../changefeed/helpers.ts';
import { Canon } from '../support/canon.ts';

/**
 * alice, bob, carol, dave. bob, carol and dave follow alice (dave mutes her); alice follows
 * bob. alice posts twice, bob once; bob likes alice's first post. Projections are built by
 * the real pipeline (relay + change-feed processors), drained to quiet.
 */
export async function smallWorld(ctx: PipelineContext) {
  const db = ctx.db;
  const canon = new Canon(db);
  const alice = await canon.user('alice');
  const bob = await canon.user('bob');
  const carol = await canon.user('carol');
  const dave = await canon.user('dave');
  for (const f of [bob, carol, dave]) await canon.follow(f, alice);
  await canon.follow(alice, bob);
  await canon.mute(dave, alice);
  const p1 = await canon.post(alice, 'first from alice');
  const p2 = await canon.post(alice, 'second from alice');
  const p3 = await canon.post(bob, 'bob says hi');
  await canon.react(bob, p1.id, 'like');
  const workers = createPipelineWorkers(ctx, {
    hostName: `reconcile-${randomUUID().slice(0, 6)}`,
    relay: { pollIntervalMs: 20 },
    processor: FAST,
  });
  await workers.start();
  try {
    await workers.drain({ timeoutMs: 60_000 });
    // On a server, changes committed just before drain() looked can become visible to the
    // change feed a moment later (it reads below the oldest running transaction): drain again.
    await new Promise((r) => setTimeout(r, 300));
    await workers.drain({ timeoutMs: 60_000 });
  } finally {
    await workers.stop();
  }
  // A world with failed events would make every later assertion meaningless: say why.
  const { rows } = await db.query<{ id: number; event_type: string; last_error: string | null }>(
    'SELECT id, event_type, last_error FROM outbox WHERE processed_at IS NULL ORDER BY id',
  );
  if (rows.length > 0)
    throw new Error(`pipeline left ${rows.length} event(s) unprocessed: ${JSON.stringify(rows)}`);
  return { alice, bob, carol, dave, p1, p2, p3 };
}
