import { beforeAll, describe, expect, it } from 'vitest';
import { type ReconcileReport, reconcile, totalDrift } from '../../src/ops/reconcile/index.ts';
import type { PipelineContext } from '../../src/pipeline/context.ts';
import { feedItemFor } from '../../src/readmodel/builders.ts';
import {
  CONTAINERS,
  type CounterDoc,
  counterId,
  feedItemId,
  type PostDoc,
  type PublicProfileDoc,
} from '../../src/readmodel/documents.ts';
import { engineName } from '../support/databases.ts';
import { pipelineContext } from '../support/pipeline.ts';
import { useCanonicalDb, useEmbeddedStore } from '../support/use-stores.ts';
import { smallWorld } from './world.ts';

const ids = (r: ReconcileReport, kind: keyof ReconcileReport) =>
  r[kind].drift.map((d) => `${d.id} ${d.problem}`).sort();

describe(`reconcile finds and repairs drift in each projection (${engineName})`, () => {
  const canon = useCanonicalDb();
  const proj = useEmbeddedStore();
  let ctx: PipelineContext;
  let w: Awaited<ReturnType<typeof smallWorld>>;

  beforeAll(async () => {
    ctx = pipelineContext(canon.db, proj.store);
    w = await smallWorld(ctx);
  }, 180_000);

  it('a pipeline-built world has no drift (no false positives: mutes, follows, own posts)', async () => {
    const r = await reconcile(ctx, { repair: false });
    expect(r.posts.drift).toEqual([]);
    expect(r.feeds.drift).toEqual([]);
    expect(r.counters.drift).toEqual([]);
    expect(r.profiles.drift).toEqual([]);
    expect(r.posts.checked).toBe(3);
    expect(r.feeds.checked).toBe(4);
    expect(r.profiles.checked).toBe(4);
    expect(r.counters.checked).toBeGreaterThan(0);
  });

  it('planted drift is reported per projection, repaired, and a second run reports none', async () => {
    const { store } = proj;
    const posts = store.container(CONTAINERS.posts);
    const feed = store.container(CONTAINERS.userFeed);
    const counters = store.container(CONTAINERS.counters);
    const profiles = store.container(CONTAINERS.publicProfiles);

    // posts_v2: a live post's document vanishes.
    await posts.delete(w.p2.id, w.p2.id);
    // counters: a like counter is corrupted.
    const likes = counterId(w.p1.id, 'likes');
    expect((await counters.read<CounterDoc>(likes, w.p1.id)).resource?.value).toBe(1);
    await counters.patch(likes, w.p1.id, [{ op: 'set', path: '/value', value: 99 }]);
    // userFeed: carol (who does not follow bob) gets bob's post; bob loses alice's p1.
    const bobPost = (await posts.read<PostDoc>(w.p3.id, w.p3.id)).resource!;
    await feed.upsert(feedItemFor(w.carol, bobPost));
    expect((await feed.delete(feedItemId(w.bob, w.p1.id), w.bob)).deleted).toBe(true);
    // publicProfiles: alice's display name altered behind canonical's back.
    const aliceDoc = (await profiles.read<PublicProfileDoc>(w.alice, w.alice)).resource!;
    await profiles.upsert({ ...aliceDoc, displayName: 'mallory' });

    const found = await reconcile(ctx, { repair: false });
    expect(ids(found, 'posts')).toEqual([`${w.p2.id} missing`]);
    expect(ids(found, 'counters')).toEqual([`${likes} wrong_value`]);
    expect(found.counters.drift[0]!.detail).toEqual({ have: 99, want: 1 });
    expect(ids(found, 'feeds')).toEqual(
      [`${w.bob} missing_items`, `${w.carol} stray_items`].sort(),
    );
    expect(found.feeds.drift.find((d) => d.id === w.carol)!.detail).toMatchObject({
      stray: [w.p3.id],
    });
    expect(found.feeds.drift.find((d) => d.id === w.bob)!.detail).toMatchObject({
      missing: [w.p1.id],
    });
    expect(ids(found, 'profiles')).toEqual([`${w.alice} mismatch`]);
    expect(found.profiles.drift[0]!.detail).toMatchObject({ fields: ['displayName'] });
    // Reporting wrote nothing.
    expect((await posts.read(w.p2.id, w.p2.id)).resource).toBeUndefined();

    const repaired = await reconcile(ctx, { repair: true });
    expect(totalDrift(repaired)).toBe(5);
    expect(
      repaired.posts.repaired +
        repaired.feeds.repaired +
        repaired.counters.repaired +
        repaired.profiles.repaired,
    ).toBe(5);

    const again = await reconcile(ctx, { repair: false });
    expect(totalDrift(again)).toBe(0);
    expect((await posts.read<PostDoc>(w.p2.id, w.p2.id)).resource).toMatchObject({
      text: 'second from alice',
      sourceVersion: 1,
    });
    expect((await counters.read<CounterDoc>(likes, w.p1.id)).resource?.value).toBe(1);
    expect((await feed.read(feedItemId(w.carol, w.p3.id), w.carol)).resource).toBeUndefined();
    expect((await feed.read(feedItemId(w.bob, w.p1.id), w.bob)).resource).toBeDefined();
    expect((await profiles.read<PublicProfileDoc>(w.alice, w.alice)).resource?.displayName).toBe(
      'alice',
    );

    // Repair is idempotent: a run with --repair on a clean world writes nothing.
    const noop = await reconcile(ctx, { repair: true });
    expect(totalDrift(noop)).toBe(0);
  });

  it('catches a live document for a deleted post, a stale version and a stray document', async () => {
    const posts = proj.store.container(CONTAINERS.posts);
    const profiles = proj.store.container(CONTAINERS.publicProfiles);
    // canonical deletes p1 but posts_v2 never hears of it (no event applied).
    await canon.db.query(
      `UPDATE posts SET status = 'deleted', deleted_at = now(), version = version + 1 WHERE id = $1`,
      [w.p1.id],
    );
    // a stale copy of bob's post.
    const p3 = (await posts.read<PostDoc>(w.p3.id, w.p3.id)).resource!;
    await canon.db.query(
      `UPDATE posts SET text = 'bob edited', version = version + 1 WHERE id = $1`,
      [w.p3.id],
    );
    // a profile document for a user canonical never had.
    const ghost = '00000000-0000-4000-8000-00000000dead';
    await profiles.upsert({
      id: ghost,
      userId: ghost,
      displayName: 'ghost',
      bio: null,
      avatarUrl: null,
      privacyLevel: 'public',
      sourceVersion: 1,
      updatedAt: new Date().toISOString(),
    });

    const r = await reconcile(ctx, { repair: true, kinds: ['posts', 'profiles'] });
    expect(ids(r, 'posts')).toEqual([`${w.p1.id} not_deleted`, `${w.p3.id} stale`].sort());
    expect(ids(r, 'profiles')).toEqual([`${ghost} stray`]);
    expect(r.feeds.checked).toBe(0);
    expect((await posts.read<PostDoc>(w.p1.id, w.p1.id)).resource).toMatchObject({
      deleted: true,
      status: 'deleted',
    });
    expect((await posts.read<PostDoc>(w.p3.id, w.p3.id)).resource).toMatchObject({
      text: 'bob edited',
      sourceVersion: p3.sourceVersion + 1,
    });
    expect((await profiles.read<PublicProfileDoc>(ghost, ghost)).resource).toMatchObject({
      deleted: true,
    });
    const after = await reconcile(ctx, { repair: false, kinds: ['posts', 'profiles'] });
    expect(totalDrift(after)).toBe(0);
  });
});
