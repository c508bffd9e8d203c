import { beforeAll, describe, expect, it } from 'vitest';
import { createReactionHandler } from '../../../src/pipeline/changes/reactions.ts';
import type { PipelineContext } from '../../../src/pipeline/context.ts';
import type { Stored } from '../../../src/projections/port.ts';
import { reactionNotificationId } from '../../../src/readmodel/builders.ts';
import {
  type CounterDoc,
  counterId,
  type NotificationDoc,
  type ReactionDoc,
  reactionDocId,
  SOFT_DELETE_TTL_SECONDS,
} from '../../../src/readmodel/documents.ts';
import { Canon } from '../../support/canon.ts';
import { engineName } from '../../support/databases.ts';
import { pipelineContext } from '../../support/pipeline.ts';
import { useCanonicalDb, useEmbeddedStore } from '../../support/use-stores.ts';

describe(`reactions → counters and notifications (${engineName})`, () => {
  const canonical = useCanonicalDb();
  const proj = useEmbeddedStore();
  let canon: Canon;
  let ctx: PipelineContext;

  beforeAll(() => {
    canon = new Canon(canonical.db);
    ctx = pipelineContext(canonical.db, proj.store);
  });

  /** The reactions document as the relay writes it, as the change feed delivers it. */
  async function reactionDoc(
    postId: string,
    userId: string,
    removed = false,
  ): Promise<Stored<ReactionDoc>> {
    const doc: ReactionDoc = {
      id: reactionDocId(userId, 'like'),
      postId,
      userId,
      type: 'like',
      createdAt: '2026-01-01T00:00:00.000Z',
      sourceVersion: removed ? 2 : 1,
      ...(removed ? { deleted: true, ttl: SOFT_DELETE_TTL_SECONDS } : {}),
    };
    return (await proj.store.container('reactions').upsert(doc)).resource;
  }

  const likes = async (postId: string) =>
    (await proj.store.container('counters').read<CounterDoc>(counterId(postId, 'likes'), postId))
      .resource?.value;
  const note = (authorId: string, postId: string, userId: string) =>
    proj.store
      .container('notifications')
      .read<NotificationDoc>(reactionNotificationId({ postId, userId, type: 'like' }), authorId);

  it('recomputes the counter from canonical and notifies the author once, under redelivery', async () => {
    const [author, fan, other] = await Promise.all(
      ['author', 'fan', 'other'].map((x) => canon.user(x)),
    );
    const post = await canon.post(author!, 'p');
    await canon.react(fan!, post.id, 'like');
    await canon.react(other!, post.id, 'like');
    await canon.react(author!, post.id, 'like');
    const handle = createReactionHandler(ctx);
    const batch = [await reactionDoc(post.id, fan!), await reactionDoc(post.id, author!)];
    await handle(batch);
    await handle(batch); // redelivered
    expect(await likes(post.id)).toBe(3); // the canonical count, not the number of deliveries
    const n = (await note(author!, post.id, fan!)).resource;
    expect(n).toMatchObject({
      type: 'reaction',
      actorId: fan,
      subjectId: post.id,
      recipientId: author,
      read: false,
    });
    expect((await note(author!, post.id, author!)).resource).toBeUndefined(); // no self-notification
    const all = await proj.store
      .container('notifications')
      .query({ partitionKey: author!, limit: 100 });
    expect(all.items).toHaveLength(1);
  });

  it('a redelivery does not reset a notification the author has read', async () => {
    const [author, fan] = await Promise.all(['author', 'fan'].map((x) => canon.user(x)));
    const post = await canon.post(author!, 'p');
    await canon.react(fan!, post.id, 'like');
    const handle = createReactionHandler(ctx);
    const doc = await reactionDoc(post.id, fan!);
    await handle([doc]);
    const id = reactionNotificationId({ postId: post.id, userId: fan!, type: 'like' });
    await proj.store
      .container('notifications')
      .patch(id, author!, [{ op: 'set', path: '/read', value: true }]);
    await handle([doc]);
    expect((await note(author!, post.id, fan!)).resource?.read).toBe(true);
  });

  it('a removed reaction lowers the counter and takes back an unread notification, not a read one', async () => {
    const [author, fan, reader] = await Promise.all(
      ['author', 'fan', 'reader'].map((x) => canon.user(x)),
    );
    const post = await canon.post(author!, 'p');
    await canon.react(fan!, post.id, 'like');
    await canon.react(reader!, post.id, 'like');
    const handle = createReactionHandler(ctx);
    await handle([await reactionDoc(post.id, fan!), await reactionDoc(post.id, reader!)]);
    expect(await likes(post.id)).toBe(2);
    const readId = reactionNotificationId({ postId: post.id, userId: reader!, type: 'like' });
    await proj.store
      .container('notifications')
      .patch(readId, author!, [{ op: 'set', path: '/read', value: true }]);
    await canon.unreact(fan!, post.id, 'like');
    await canon.unreact(reader!, post.id, 'like');
    const removed = [
      await reactionDoc(post.id, fan!, true),
      await reactionDoc(post.id, reader!, true),
    ];
    await handle(removed);
    await handle(removed);
    expect(await likes(post.id)).toBe(0);
    expect((await note(author!, post.id, fan!)).resource).toBeUndefined();
    expect((await note(author!, post.id, reader!)).resource?.read).toBe(true);
  });

  it('finds the author in canonical when posts_v2 has no copy, and skips malformed documents', async () => {
    const [author, fan] = await Promise.all(['author', 'fan'].map((x) => canon.user(x)));
    const post = await canon.post(author!, 'p'); // posts_v2 never written in this test
    await canon.react(fan!, post.id, 'like');
    const handle = createReactionHandler(ctx);
    const junk = {
      id: 'junk',
      postId: post.id,
      type: 'nope',
      _etag: 'e',
      _ts: 0,
    } as unknown as Stored;
    await handle([junk, await reactionDoc(post.id, fan!)]);
    expect((await note(author!, post.id, fan!)).resource?.actorId).toBe(fan);
    expect(await likes(post.id)).toBe(1);
  });
});
