import { beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../../src/errors.ts';
import type { PipelineContext } from '../../../src/pipeline/context.ts';
import { regenerateUserFeed } from '../../../src/pipeline/regenerate-feed.ts';
import { type FeedItemDoc, feedItemId } from '../../../src/readmodel/documents.ts';
import { Canon } from '../../support/canon.ts';
import { engineName } from '../../support/databases.ts';
import { dump, feedOf, pipelineContext } from '../../support/pipeline.ts';
import { useCanonicalDb, useEmbeddedStore } from '../../support/use-stores.ts';

describe(`regenerateUserFeed (${engineName})`, () => {
  const canonical = useCanonicalDb();
  const proj = useEmbeddedStore();
  let canon: Canon;
  let ctx: PipelineContext;

  beforeAll(() => {
    canon = new Canon(canonical.db);
  });

  it('rebuilds one feed from canonical: followees minus blocks and mutes, own posts, newest first, capped', async () => {
    ctx = pipelineContext(canon.db, proj.store, { feedCap: 6, fanoutFollowerThreshold: 5 });
    const [me, friend, muted, blocker, blockedByMe, stranger, star] = await Promise.all(
      ['me', 'friend', 'muted', 'blocker', 'blockedByMe', 'stranger', 'star'].map((x) =>
        canon.user(x),
      ),
    );
    for (const f of [friend!, muted!, blocker!, blockedByMe!, star!]) await canon.follow(me!, f);
    await canon.mute(me!, muted!);
    // Follows that raced the blocks survive them: the rebuild must still leave those authors out.
    await canon.block(blocker!, me!, { keepFollows: true });
    await canon.block(me!, blockedByMe!, { keepFollows: true });
    await canon.bulkFollowers(star!, 6); // above the threshold: merged at read time, not stored
    const t = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, i));
    const friendPosts = [];
    for (let i = 0; i < 5; i++)
      friendPosts.push(await canon.post(friend!, `friend ${i}`, { at: t(i) }));
    const mine = await canon.post(me!, 'mine', { at: t(10) });
    const edited = await canon.editPost(friendPosts[4]!.id, 'friend 4, edited');
    const deleted = await canon.deletePost(friendPosts[3]!.id);
    await canon.moderatePost(friendPosts[2]!.id, 'removed');
    for (const u of [muted!, blocker!, blockedByMe!, stranger!, star!])
      await canon.post(u, 'not for me', { at: t(20) });
    const old = await canon.post(friend!, 'oldest', { at: t(-10) });

    // Plant drift: a stranger's post, a deleted post, a stale copy of the edited one.
    const feed = proj.store.container('userFeed');
    const junk = (postId: string, sourceVersion: number, text = 'junk'): FeedItemDoc => ({
      id: feedItemId(me!, postId),
      recipientId: me!,
      postId,
      authorId: friend!,
      text,
      tags: [],
      createdAt: t(30).toISOString(),
      updatedAt: t(30).toISOString(),
      sourceVersion,
    });
    await feed.upsert(junk('00000000-0000-4000-8000-000000000001', 1));
    await feed.upsert(junk(deleted.id, 1));
    await feed.upsert(junk(edited.id, 1, 'stale'));

    const r = await regenerateUserFeed(ctx, me!);
    const expected = [mine.id, edited.id, friendPosts[1]!.id, friendPosts[0]!.id, old.id];
    expect(await feedOf(proj.store, me!)).toEqual(expected);
    expect(r).toMatchObject({ userId: me, wanted: 5, deleted: 2 });
    expect((await feed.read<FeedItemDoc>(feedItemId(me!, edited.id), me!)).resource).toMatchObject({
      text: 'friend 4, edited',
      sourceVersion: 2,
    });

    // Idempotent: a second run changes nothing.
    const before = await dump(proj.store, 'userFeed');
    const again = await regenerateUserFeed(ctx, me!);
    expect(again).toMatchObject({ written: 0, deleted: 0, unchanged: 5 });
    expect(await dump(proj.store, 'userFeed')).toEqual(before);

    // The cap keeps the newest.
    for (let i = 0; i < 3; i++) await canon.post(friend!, `late ${i}`, { at: t(40 + i) });
    await regenerateUserFeed(ctx, me!);
    const capped = await feedOf(proj.store, me!);
    expect(capped).toHaveLength(6);
    expect(capped).not.toContain(old.id);
  });

  it('rejects a malformed or unknown user with a typed error and writes nothing', async () => {
    ctx = pipelineContext(canon.db, proj.store);
    const before = await dump(proj.store, 'userFeed');
    await expect(regenerateUserFeed(ctx, 'not-a-uuid')).rejects.toBeInstanceOf(ValidationError);
    await expect(
      regenerateUserFeed(ctx, '00000000-0000-4000-8000-00000000abcd'),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await dump(proj.store, 'userFeed')).toEqual(before);
  });
});
