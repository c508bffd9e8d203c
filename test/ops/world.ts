import { randomUUID } from 'node:crypto';
import {
  PROFILE_COLUMNS,
  type ProfileRow,
  profileSnapshot,
} from '../../src/canonical/tables/profiles.ts';
import { emit } from '../../src/outbox/emit.ts';
import type { PipelineContext } from '../../src/pipeline/context.ts';
import { createPipelineWorkers } from '../../src/pipeline/workers.ts';
import type { Db } from '../../src/sql/db.ts';
import { FAST } from '../changefeed/helpers.ts';
import { createPost, follow, mute, react } from '../pipeline/changes/canonical-fixtures.ts';

/** A user with a profile and its profile.updated event, as registration writes them. */
export async function registeredUser(db: Db, name: string): Promise<string> {
  const id = randomUUID();
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO users (id, email) VALUES ($1, $2)', [
      id,
      `${name}-${id.slice(0, 8)}@example.test`,
    ]);
    const { rows } = await tx.query<ProfileRow>(
      `INSERT INTO profiles (user_id, display_name, bio) VALUES ($1, $2, $3) RETURNING ${PROFILE_COLUMNS}`,
      [id, name, `${name}'s bio`],
    );
    await emit(tx, { type: 'profile', id }, 'profile.updated', profileSnapshot(rows[0]!));
  });
  return id;
}

/**
 * alice, bob, carol, dave. bob, carol and dave follow alice (dave mutes her); alice follows
 * bob. alice posts twice, bob once; bob likes alice's first post. Projections are built by
 * the real pipeline (relay + change-feed processors), drained to quiet.
 */
export async function smallWorld(ctx: PipelineContext) {
  const db = ctx.db;
  const alice = await registeredUser(db, 'alice');
  const bob = await registeredUser(db, 'bob');
  const carol = await registeredUser(db, 'carol');
  const dave = await registeredUser(db, 'dave');
  for (const f of [bob, carol, dave]) await follow(db, f, alice);
  await follow(db, alice, bob);
  await mute(db, dave, alice);
  const p1 = await createPost(db, alice, 'first from alice');
  const p2 = await createPost(db, alice, 'second from alice');
  const p3 = await createPost(db, bob, 'bob says hi');
  await react(db, bob, p1.id, 'like');
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
