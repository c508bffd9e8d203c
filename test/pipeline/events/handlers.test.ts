import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppEvent } from '../../../src/events/catalogue.ts';
import { BadEventError } from '../../../src/events/catalogue.ts';
import { createEventApplier } from '../../../src/pipeline/apply-event.ts';
import type { PipelineContext } from '../../../src/pipeline/context.ts';
import {
  CONTAINERS,
  counterId,
  feedItemId,
  type PostDoc,
  reactionDocId,
  SOFT_DELETE_TTL_SECONDS,
} from '../../../src/readmodel/documents.ts';
import type { Db } from '../../../src/sql/db.ts';
import { Canon } from '../../support/canon.ts';
import { engineName } from '../../support/databases.ts';
import { drain, feedItems, mirrorRows, pipelineContext, relayFor } from '../../support/pipeline.ts';
import { useCanonicalDb, useEmbeddedStore } from '../../support/use-stores.ts';

describe(`outbox event handlers on the embedded store (${engineName})`, () => {
  const canonical = useCanonicalDb({ reset: 'each' });
  const proj = useEmbeddedStore({ reset: 'each' });
  let db: Db;
  let ctx: PipelineContext;
  let canon: Canon;

  beforeAll(() => {
    db = canonical.db;
    canon = new Canon(db);
  });
  beforeEach(() => {
    ctx = pipelineContext(db, proj.store);
  });

  const read = async <T extends { id: string }>(container: string, id: string, pk: string) =>
    (await proj.store.container(container).read<T & { [k: string]: unknown }>(id, pk)).resource;
  const counter = async (subject: string, metric: Parameters<typeof counterId>[1]) =>
    (
      await read<{ id: string; value: number }>(
        CONTAINERS.counters,
        counterId(subject, metric),
        subject,
      )
    )?.value;
  const feedOf = (recipientId: string) => feedItems(proj.store, recipientId);

  it('posts: created, edited, deleted → posts_v2, admin mirror and the author post counter follow', async () => {
    const author = await canon.user('author');
    const post = (await canon.post(author, 'hello', { tags: ['t'] })).id;
    const relay = relayFor(ctx);
    await drain(relay);
    expect(await read<PostDoc>(CONTAINERS.posts, post, post)).toMatchObject({
      postId: post,
      authorId: author,
      text: 'hello',
      tags: ['t'],
      status: 'published',
      sourceVersion: 1,
    });
    expect(await counter(author, 'posts')).toBe(1);
    expect(await mirrorRows(db)).toEqual([
      { post_id: post, status: 'published', text: 'hello', source_version: 1 },
    ]);

    await canon.editPost(post, 'edited');
    await canon.deletePost(post);
    await drain(relay);
    const doc = await read<PostDoc>(CONTAINERS.posts, post, post);
    expect(doc).toMatchObject({
      text: 'edited',
      status: 'deleted',
      deleted: true,
      ttl: SOFT_DELETE_TTL_SECONDS,
      sourceVersion: 3,
    });
    expect(await counter(author, 'posts')).toBe(0);
    expect(await mirrorRows(db)).toEqual([
      { post_id: post, status: 'deleted', text: 'edited', source_version: 3 },
    ]);

    // A late copy of the first event (a replay, a slow worker) regresses nothing.
    const { rows } = await db.query<{ payload: unknown }>(
      `SELECT payload FROM outbox WHERE aggregate_version = 1 AND event_type = 'post.created'`,
    );
    const apply = createEventApplier(ctx);
    await apply({
      id: 1,
      aggregateType: 'post',
      aggregateId: post,
      aggregateVersion: 1,
      eventType: 'post.created',
      payload: rows[0]!.payload as AppEvent<'post.created'>['payload'],
      createdAt: new Date(),
      retryCount: 0,
    });
    expect(await read<PostDoc>(CONTAINERS.posts, post, post)).toMatchObject({
      status: 'deleted',
      sourceVersion: 3,
    });
    expect((await mirrorRows(db))[0]!.source_version).toBe(3);
  });

  it('moderation: hidden and removed posts are soft-deleted in posts_v2', async () => {
    const author = await canon.user();
    const hidden = (await canon.post(author, 'h')).id;
    const removed = (await canon.post(author, 'r')).id;
    await canon.moderatePost(hidden, 'hidden');
    await canon.moderatePost(removed, 'removed');
    await drain(relayFor(ctx));
    expect(await read<PostDoc>(CONTAINERS.posts, hidden, hidden)).toMatchObject({
      status: 'hidden',
      deleted: true,
    });
    expect(await read<PostDoc>(CONTAINERS.posts, removed, removed)).toMatchObject({
      status: 'removed',
      deleted: true,
    });
  });

  it('reactions and profiles: soft delete on removal, version-guarded', async () => {
    const author = await canon.user();
    const fan = await canon.user('fan');
    const post = (await canon.post(author, 'p')).id;
    await canon.react(fan, post, 'heart');
    await canon.updateProfile(fan, 'Fan Name', 'bio 1');
    const relay = relayFor(ctx);
    await drain(relay);
    const id = reactionDocId(fan, 'heart');
    expect(await read(CONTAINERS.reactions, id, post)).toMatchObject({
      userId: fan,
      type: 'heart',
      sourceVersion: 1,
    });
    expect((await read(CONTAINERS.reactions, id, post))?.deleted).toBeUndefined();
    expect(await read(CONTAINERS.publicProfiles, fan, fan)).toMatchObject({
      displayName: 'Fan Name',
      bio: 'bio 1',
      sourceVersion: 2,
    });

    await canon.unreact(fan, post, 'heart');
    await canon.updateProfile(fan, 'Renamed', null);
    await drain(relay);
    expect(await read(CONTAINERS.reactions, id, post)).toMatchObject({
      deleted: true,
      sourceVersion: 2,
    });
    expect(await read(CONTAINERS.publicProfiles, fan, fan)).toMatchObject({
      displayName: 'Renamed',
      bio: null,
      sourceVersion: 3,
    });

    // React again: version 3 brings the document back.
    await canon.react(fan, post, 'heart');
    await drain(relay);
    const back = await read(CONTAINERS.reactions, id, post);
    expect(back).toMatchObject({ sourceVersion: 3 });
    expect(back?.deleted).toBeUndefined();
  });

  it('follow: counters, one notification, backfill of recent published posts capped per recipient; unfollow removes them', async () => {
    ctx = pipelineContext(db, proj.store, { feedCap: 5 });
    const [a, b] = [await canon.user('a'), await canon.user('b')];
    const posts: string[] = [];
    for (let i = 0; i < 8; i++)
      posts.push((await canon.post(b, `b${i}`, { ageSeconds: 100 - i })).id); // b7 newest
    await canon.deletePost(posts[7]!);
    const own = (await canon.post(a, 'mine')).id;
    const relay = relayFor(ctx);
    await drain(relay);
    // a's own (newest) post in a's feed, as fan-out would put it: counts toward the cap, survives b's unfollow.
    await proj.store.container(CONTAINERS.userFeed).upsert({
      id: feedItemId(a, own),
      recipientId: a,
      postId: own,
      authorId: a,
      text: 'mine',
      tags: [],
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      sourceVersion: 1,
    });

    await canon.follow(a, b);
    await drain(relay);
    expect(await counter(b, 'followers')).toBe(1);
    expect(await counter(a, 'following')).toBe(1);
    const notes = await proj.store
      .container(CONTAINERS.notifications)
      .query({ partitionKey: b, limit: 10 });
    expect(notes.items).toHaveLength(1);
    expect(notes.items[0]).toMatchObject({
      type: 'follow',
      actorId: a,
      recipientId: b,
      read: false,
    });
    // The 5 newest items (the cap), the deleted b7 excluded, the oldest trimmed.
    const feed = await feedOf(a);
    expect(feed.map((f) => f.text)).toEqual(['mine', 'b6', 'b5', 'b4', 'b3']);
    expect(feed[1]).toMatchObject({
      id: feedItemId(a, posts[6]!),
      recipientId: a,
      authorId: b,
      sourceVersion: 1,
    });

    await canon.unfollow(a, b);
    await drain(relay);
    expect(await counter(b, 'followers')).toBe(0);
    expect(await counter(a, 'following')).toBe(0);
    expect((await feedOf(a)).map((f) => f.postId)).toEqual([own]);
  });

  it('follow of a muted or blocking author backfills nothing; mute and block remove, unmute and unblock restore', async () => {
    const [a, b, c] = [await canon.user('a'), await canon.user('b'), await canon.user('c')];
    await canon.post(b, 'from b', { ageSeconds: 10 });
    await canon.post(a, 'from a', { ageSeconds: 10 });
    await canon.follow(a, b);
    await canon.follow(b, a);
    await canon.mute(c, b);
    await canon.follow(c, b);
    const relay = relayFor(ctx);
    await drain(relay);
    expect(await feedOf(c)).toEqual([]);
    expect((await feedOf(a)).map((f) => f.text)).toEqual(['from b']);
    expect((await feedOf(b)).map((f) => f.text)).toEqual(['from a']);

    await canon.unmute(c, b);
    await drain(relay);
    expect((await feedOf(c)).map((f) => f.text)).toEqual(['from b']);

    await canon.mute(a, b);
    await drain(relay);
    expect(await feedOf(a)).toEqual([]);
    await canon.unmute(a, b);
    await drain(relay);
    expect(await feedOf(a)).toHaveLength(1);

    await canon.block(a, b); // severs both follows
    await drain(relay);
    expect(await feedOf(a)).toEqual([]);
    expect(await feedOf(b)).toEqual([]);
    expect(await counter(a, 'followers')).toBe(0);
    expect(await counter(b, 'followers')).toBe(1); // c still follows b

    // Unblocking does not restore severed follows: feeds stay empty until someone follows again.
    await canon.unblock(a, b);
    await drain(relay);
    expect(await feedOf(a)).toEqual([]);
    await canon.follow(a, b);
    await drain(relay);
    expect((await feedOf(a)).map((f) => f.text)).toEqual(['from b']);
  });

  it('authors above the fan-out threshold are not backfilled (merged at read time)', async () => {
    ctx = pipelineContext(db, proj.store, { fanoutFollowerThreshold: 1 });
    const [a, b, star] = [await canon.user(), await canon.user(), await canon.user('star')];
    await canon.post(star, 'shine', { ageSeconds: 5 });
    await canon.follow(a, star);
    await drain(relayFor(ctx));
    expect(await feedOf(a)).toHaveLength(1);
    await canon.follow(b, star);
    await drain(relayFor(ctx));
    expect(await feedOf(b)).toEqual([]);
  });

  it('user.deleted purges the account and recomputes the counters it touched', async () => {
    const [gone, friend, fan] = [
      await canon.user('gone'),
      await canon.user('friend'),
      await canon.user('fan'),
    ];
    const mine = (await canon.post(gone, 'bye', { ageSeconds: 5 })).id;
    const theirs = (await canon.post(friend, 'hi', { ageSeconds: 5 })).id;
    await canon.follow(gone, friend);
    await canon.follow(fan, gone);
    await canon.react(gone, theirs, 'like');
    await canon.updateProfile(gone, 'Gone', null);
    const relay = relayFor(ctx);
    await drain(relay);
    expect(await feedOf(gone)).toHaveLength(1);
    expect(await feedOf(fan)).toHaveLength(1);
    expect(await counter(theirs, 'likes')).toBeUndefined(); // counters for reactions are the change feed's job
    await proj.store.container(CONTAINERS.counters).upsert({
      id: counterId(theirs, 'likes'),
      subjectId: theirs,
      metric: 'likes',
      value: 1,
      updatedAt: '',
    });

    await canon.deleteUser(gone);
    await drain(relay);
    expect(await feedOf(gone)).toEqual([]);
    expect(
      (
        await proj.store
          .container(CONTAINERS.notifications)
          .query({ partitionKey: gone, limit: 10 })
      ).items,
    ).toEqual([]);
    expect(await read(CONTAINERS.publicProfiles, gone, gone)).toMatchObject({ deleted: true });
    expect(await read(CONTAINERS.posts, mine, mine)).toMatchObject({
      deleted: true,
      status: 'deleted',
      text: 'bye',
    });
    expect(await read(CONTAINERS.reactions, reactionDocId(gone, 'like'), theirs)).toMatchObject({
      deleted: true,
    });
    expect(await counter(gone, 'posts')).toBeUndefined();
    expect(await counter(gone, 'followers')).toBeUndefined();
    expect(await counter(theirs, 'likes')).toBe(0);
    expect(await counter(friend, 'followers')).toBe(0);
    expect(await counter(fan, 'following')).toBe(0);
    expect(await mirrorRows(db)).toEqual([expect.objectContaining({ post_id: theirs })]);

    // A late profile or post event for the deleted account cannot bring it back.
    await canon.db.query('UPDATE outbox SET processed_at = NULL WHERE aggregate_type IN ($1, $2)', [
      'profile',
      'post',
    ]);
    await drain(relay);
    expect(await read(CONTAINERS.publicProfiles, gone, gone)).toMatchObject({ deleted: true });
    expect(await read(CONTAINERS.posts, mine, mine)).toMatchObject({ deleted: true });
  });

  it('bad events are refused with a message naming the field, write nothing, and dead-letter through the relay', async () => {
    const apply = createEventApplier(ctx);
    const base = {
      id: 1,
      aggregateType: 'post' as const,
      aggregateId: crypto.randomUUID(),
      aggregateVersion: 1,
      createdAt: new Date(),
      retryCount: 0,
    };
    await expect(
      apply({ ...base, eventType: 'post.created', payload: { id: 'x' } as never }),
    ).rejects.toThrow(/bad post\.created payload: id: .*authorId/s);
    await expect(
      apply({ ...base, eventType: 'post.exploded' as never, payload: {} as never }),
    ).rejects.toBeInstanceOf(BadEventError);

    await db.query(
      `INSERT INTO outbox (aggregate_type, aggregate_id, aggregate_version, event_type, payload, max_retries)
       VALUES ('post', gen_random_uuid(), 1, 'post.created', '{"id": 42}', 1)`,
    );
    await drain(relayFor(ctx));
    const { rows } = await db.query<{ dead: boolean; last_error: string }>(
      'SELECT dead_lettered_at IS NOT NULL AS dead, last_error FROM outbox',
    );
    expect(rows[0]!.dead).toBe(true);
    expect(rows[0]!.last_error).toMatch(/^BadEventError: bad post\.created payload: id:/);
    expect((await proj.store.container(CONTAINERS.posts).query({ limit: 10 })).items).toEqual([]);
  });
});
