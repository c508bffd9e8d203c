import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { claimBatch } from '../../../src/outbox/claim.ts';
import { createRelay, type Relay } from '../../../src/outbox/relay.ts';
import { replayOutbox } from '../../../src/outbox/status.ts';
import { createEventApplier } from '../../../src/pipeline/apply-event.ts';
import type { PipelineContext } from '../../../src/pipeline/context.ts';
import { createEmbeddedStore } from '../../../src/projections/embedded/store.ts';
import { containerDefs } from '../../../src/readmodel/containers.ts';
import { CONTAINERS, type PostDoc } from '../../../src/readmodel/documents.ts';
import type { Db } from '../../../src/sql/db.ts';
import { createPgDb } from '../../../src/sql/pg.ts';
import { waitFor } from '../../outbox/support.ts';
import { Canon } from '../../support/canon.ts';
import { engineName, scratchDb, serverUrl } from '../../support/databases.ts';
import { drain, dumpAll, mirrorRows, pipelineContext, relayFor } from '../../support/pipeline.ts';
import { emptyStore } from '../../support/projections.ts';
import { useCanonicalDb, useEmbeddedStore } from '../../support/use-stores.ts';

describe(`relay + handlers: order, crashes, replay (${engineName})`, () => {
  const canonical = useCanonicalDb({ poolMax: 8, reset: 'each' });
  const proj = useEmbeddedStore({ reset: 'each' });
  let db: Db;
  let ctx: PipelineContext;
  let canon: Canon;
  const relays: Relay[] = [];
  const pools: Db[] = [];

  beforeAll(() => {
    db = canonical.db;
    canon = new Canon(db);
  });
  beforeEach(() => {
    ctx = pipelineContext(db, proj.store);
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  /** Three relays; on a server each with its own canonical pool (real concurrent claims). */
  function startRelays(n = 3): void {
    for (let i = 0; i < n; i++) {
      const relayDb = serverUrl ? createPgDb(canonical.url!, { max: 3 }) : db;
      if (serverUrl) pools.push(relayDb);
      const relay = relayFor(ctx, { workerId: `r${i}`, db: relayDb });
      relays.push(relay);
      relay.start();
    }
  }
  const allProcessed = async () =>
    (
      await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL',
      )
    ).rows[0]!.n === 0;

  it('a post created, edited and deleted in quick succession ends deleted everywhere, with three relays', async () => {
    const author = await canon.user();
    const posts: string[] = [];
    startRelays();
    for (let i = 0; i < 8; i++) {
      const { id } = await canon.post(author, `p${i}`);
      posts.push(id);
      await canon.editPost(id, `p${i} edited`);
      await canon.deletePost(id);
    }
    // The end state is the point, not speed: on a server shared with the rest of the suite a
    // handler can fail once (a deadline) and wait out its retry backoff.
    await waitFor(allProcessed, 60_000);
    for (const id of posts) {
      const doc = (await proj.store.container(CONTAINERS.posts).read<PostDoc>(id, id)).resource;
      expect(doc).toMatchObject({
        status: 'deleted',
        deleted: true,
        sourceVersion: 3,
        text: expect.stringMatching(/edited$/),
      });
    }
    const mirror = await mirrorRows(db);
    expect(mirror).toHaveLength(8);
    expect(mirror.every((m) => m.status === 'deleted' && m.source_version === 3)).toBe(true);
    const { rows } = await db.query<{ claimed_by: string }>(
      'SELECT DISTINCT claimed_by FROM outbox',
    );
    expect(rows.length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  async function scenario(): Promise<void> {
    const [a, b, c, d] = [
      await canon.user('a'),
      await canon.user('b'),
      await canon.user('c'),
      await canon.user('d'),
    ];
    const pb = (await canon.post(b, 'b1', { ageSeconds: 30 })).id;
    const pb2 = (await canon.post(b, 'b2', { ageSeconds: 20 })).id;
    const pd = (await canon.post(d, 'd1', { ageSeconds: 10 })).id;
    await canon.follow(a, b);
    await canon.follow(c, b);
    await canon.follow(a, d);
    await canon.follow(d, b);
    await canon.react(a, pb, 'like');
    await canon.react(c, pb, 'heart');
    await canon.react(b, pd, 'wow');
    await canon.unreact(c, pb, 'heart');
    await canon.editPost(pb2, 'b2 edited');
    await canon.moderatePost(pb2, 'removed');
    await canon.updateProfile(a, 'Alice', 'hi');
    await canon.mute(c, b);
    await canon.block(a, d);
    await canon.unfollow(d, b);
    await canon.follow(d, b);
    await canon.deleteUser(c);
    await canon.post(b, 'b3', { ageSeconds: 5 });
  }

  it('replay: resetting every event and running the outbox again changes no projection', async () => {
    await scenario();
    await drain(relayFor(ctx));
    const first = await dumpAll(proj.store);
    const firstMirror = await mirrorRows(db);
    expect(first[CONTAINERS.userFeed]!.length).toBeGreaterThan(0);
    expect(first[CONTAINERS.notifications]!.length).toBeGreaterThan(0);
    expect(first[CONTAINERS.counters]!.length).toBeGreaterThan(0);

    const n = await replayOutbox(db);
    expect(n).toBeGreaterThan(20);
    startRelays();
    await waitFor(allProcessed, 30_000);
    expect(await dumpAll(proj.store)).toEqual(first);
    expect(await mirrorRows(db)).toEqual(firstMirror);
  });

  it('a relay killed between apply and ack: after its lease expires another relay re-applies; nothing lost or doubled', async () => {
    await scenario();
    // Reference: the projections after a clean run.
    await drain(relayFor(ctx));
    const clean = await dumpAll(proj.store);
    const cleanMirror = await mirrorRows(db);

    // Start over, then crash mid-way: claim a batch, apply half of it, never acknowledge.
    await emptyStore(proj);
    await db.query('DELETE FROM posts_admin_mirror');
    await replayOutbox(db);
    const claimed = await claimBatch(db, 'doomed', 100, 30);
    expect(claimed.length).toBeGreaterThan(1);
    const apply = createEventApplier(ctx);
    for (const e of claimed.slice(0, Math.ceil(claimed.length / 2))) await apply(e);

    const survivor = relayFor(ctx, { workerId: 'survivor' });
    await drain(survivor); // everything not leased; the doomed batch's aggregates wait
    const leased = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL`,
    );
    expect(leased.rows[0]!.n).toBeGreaterThanOrEqual(claimed.length);
    await db.query(
      `UPDATE outbox SET lease_until = now() - interval '1 second' WHERE claimed_by = 'doomed'`,
    );
    await drain(survivor);
    expect(await allProcessed()).toBe(true);
    expect(await dumpAll(proj.store)).toEqual(clean);
    expect(await mirrorRows(db)).toEqual(cleanMirror);
  });

  // A second process can only share a database on a server (PGlite here is in-memory).
  it.runIf(serverUrl)(
    'a relay process killed with SIGKILL after applying, before acknowledging: nothing lost or doubled',
    async () => {
      await scenario();
      await drain(relayFor(ctx));
      const clean = await dumpAll(proj.store);
      const cleanMirror = await mirrorRows(db);
      await emptyStore(proj);
      await db.query('DELETE FROM posts_admin_mirror');
      await replayOutbox(db);

      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(new URL('./relay-child.ts', import.meta.url)),
          canonical.url!,
          proj.url!,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const exited = new Promise((r) => child.on('exit', r));
      try {
        await waitFor(
          () => (out.match(/^applied /gm) ?? []).length >= 4 || child.exitCode !== null,
          60_000,
        );
        expect(err).toBe('');
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox WHERE claimed_by = 'child' AND processed_at IS NULL`,
      );
      expect(rows[0]!.n).toBeGreaterThanOrEqual(4);

      // Its leases run out (moved, not waited for); a new relay finishes the work.
      await db.query(
        `UPDATE outbox SET lease_until = now() - interval '1 second' WHERE claimed_by = 'child'`,
      );
      await drain(relayFor(ctx, { workerId: 'restarted' }));
      expect(await allProcessed()).toBe(true);
      expect(await dumpAll(proj.store)).toEqual(clean);
      expect(await mirrorRows(db)).toEqual(cleanMirror);
    },
    90_000,
  );

  it.runIf(serverUrl)(
    'projection store down: events fail and wait for their retry, nothing is lost',
    async () => {
      const scratch = await scratchDb();
      const storeDb = createPgDb(scratch.url!, { max: 2 });
      const doomedStore = await createEmbeddedStore(storeDb, { definitions: containerDefs });
      try {
        const author = await canon.user('u', { profile: false }); // the post is the only event
        const post = (await canon.post(author, 'survives')).id;
        await storeDb.close(); // the store goes away
        const relay = createRelay({
          db,
          apply: createEventApplier(pipelineContext(db, doomedStore)),
        });
        expect(await relay.runOnce()).toBe(1);
        const { rows } = await db.query<{
          processed: boolean;
          retry_count: number;
          last_error: string;
        }>('SELECT processed_at IS NOT NULL AS processed, retry_count, last_error FROM outbox');
        expect(rows[0]).toMatchObject({ processed: false, retry_count: 1 });
        expect(rows[0]!.last_error).toBeTruthy();
        expect(await relay.runOnce()).toBe(0); // waiting for its retry

        // The store is back (here: the healthy one) and the retry comes due.
        await db.query(`UPDATE outbox SET next_retry_at = now() - interval '1 second'`);
        await drain(relayFor(ctx));
        expect(await allProcessed()).toBe(true);
        const doc = (await proj.store.container(CONTAINERS.posts).read<PostDoc>(post, post))
          .resource;
        expect(doc).toMatchObject({ text: 'survives', sourceVersion: 1 });
      } finally {
        await scratch.close();
      }
    },
  );
});
