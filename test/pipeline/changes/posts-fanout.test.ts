import { beforeAll, describe, expect, it } from 'vitest';
import { createPostFanoutHandler } from '../../../src/pipeline/changes/posts-fanout.ts';
import type { PipelineContext } from '../../../src/pipeline/context.ts';
import { shouldCheckCap } from '../../../src/pipeline/feed-trim.ts';
import type { Stored } from '../../../src/projections/port.ts';
import {
  type FeedItemDoc,
  feedItemId,
  type PostDoc,
  SOFT_DELETE_TTL_SECONDS,
} from '../../../src/readmodel/documents.ts';
import { Canon } from '../../support/canon.ts';
import { engineName } from '../../support/databases.ts';
import { feedOf, pipelineContext } from '../../support/pipeline.ts';
import { resetStores, useCanonicalDb, useEmbeddedStore } from '../../support/use-stores.ts';

describe(`posts_v2 → userFeed fan-out (${engineName})`, () => {
  const canonical = useCanonicalDb();
  const proj = useEmbeddedStore();
  let canon: Canon;
  let ctx: PipelineContext;
  let n = 0;

  beforeAll(() => {
    canon = new Canon(canonical.db);
  });

  async function fresh(over: Partial<PipelineContext> = {}) {
    await resetStores(canon, proj);
    ctx = pipelineContext(canon.db, proj.store, over);
  }

  /** Writes a posts_v2 document as the relay would and returns it as the change feed delivers it. */
  async function postDoc(authorId: string, over: Partial<PostDoc> = {}): Promise<Stored<PostDoc>> {
    n++;
    const id = over.postId ?? `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    const doc: PostDoc = {
      id,
      postId: id,
      authorId,
      text: `post ${n}`,
      tags: [],
      status: 'published',
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
      updatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
      sourceVersion: 1,
      ...over,
    };
    return (await proj.store.container('posts_v2').upsert(doc)).resource;
  }

  const item = async (recipientId: string, postId: string) =>
    (
      await proj.store
        .container('userFeed')
        .read<FeedItemDoc>(feedItemId(recipientId, postId), recipientId)
    ).resource;

  it('delivers to the author and visible followers only, in small batches, idempotently', async () => {
    await fresh();
    const author = await canon.user('author');
    const fans = await Promise.all(['f1', 'f2', 'f3', 'f4', 'f5'].map((x) => canon.user(x)));
    const [blocker, muter, blocked] = await Promise.all(
      ['blocker', 'muter', 'blocked'].map((x) => canon.user(x)),
    );
    for (const f of [...fans, blocker!, muter!, blocked!]) await canon.follow(f, author);
    // Follows that raced the blocks survive them: the audience filter must still leave them out.
    await canon.block(blocker!, author, { keepFollows: true });
    await canon.mute(muter!, author);
    await canon.block(author, blocked!, { keepFollows: true });
    const handle = createPostFanoutHandler(ctx, { batchSize: 2 });
    const post = await postDoc(author);
    const [first] = await handle([post]);
    expect(first).toMatchObject({ action: 'delivered', written: 6 });
    for (const who of [author, ...fans])
      expect(await item(who, post.postId)).toMatchObject({ sourceVersion: 1, text: post.text });
    for (const who of [blocker!, muter!, blocked!])
      expect(await item(who, post.postId)).toBeUndefined();
    // Redelivery writes nothing new.
    const [again] = await handle([post]);
    expect(again).toMatchObject({ action: 'delivered', written: 0 });
  });

  it('an older version never overwrites a newer one, and a late old delivery is repaired', async () => {
    await fresh();
    const author = await canon.user('author');
    const fan = await canon.user('fan');
    await canon.follow(fan, author);
    const handle = createPostFanoutHandler(ctx);
    const v1 = await postDoc(author, { text: 'v1' });
    const v2 = await postDoc(author, { postId: v1.postId, text: 'v2', sourceVersion: 2 });
    await handle([v2]);
    await handle([v1]); // a redelivered stale batch
    expect(await item(fan, v1.postId)).toMatchObject({ text: 'v2', sourceVersion: 2 });

    // The stale version arrives first (v2 not yet handled): it re-reads posts_v2 and applies v2.
    const w1 = await postDoc(author, { text: 'w1' });
    await postDoc(author, { postId: w1.postId, text: 'w2', sourceVersion: 2 });
    await handle([w1]);
    expect(await item(fan, w1.postId)).toMatchObject({ text: 'w2', sourceVersion: 2 });
  });

  it('deleted, removed and hidden posts leave every feed, including followers who blocked meanwhile', async () => {
    await fresh();
    const author = await canon.user('author');
    const fans = await Promise.all(['a', 'b', 'c'].map((x) => canon.user(x)));
    for (const f of fans) await canon.follow(f, author);
    const handle = createPostFanoutHandler(ctx, { batchSize: 2 });
    const keep = await postDoc(author);
    const gone = await postDoc(author);
    const modded = await postDoc(author);
    await handle([keep, gone, modded]);
    // Blocked after delivery, the follow not yet severed: removal must still reach them.
    await canon.block(fans[0]!, author, { keepFollows: true });
    const deleted = await postDoc(author, {
      postId: gone.postId,
      status: 'deleted',
      deleted: true,
      ttl: SOFT_DELETE_TTL_SECONDS,
      sourceVersion: 2,
    });
    const removed = await postDoc(author, {
      postId: modded.postId,
      status: 'removed',
      sourceVersion: 2,
    });
    const outcomes = await handle([deleted, removed]);
    expect(outcomes.map((o) => o.action)).toEqual(['retracted', 'retracted']);
    expect(outcomes.map((o) => o.removed)).toEqual([4, 4]);
    for (const who of [author, ...fans]) {
      const feed = await feedOf(proj.store, who);
      expect(feed).toContain(keep.postId);
      expect(feed).not.toContain(gone.postId);
      expect(feed).not.toContain(modded.postId);
    }
    // Restored by a moderator (published again, newer version): back in the feeds that may see it.
    const restored = await postDoc(author, {
      postId: modded.postId,
      status: 'published',
      sourceVersion: 3,
    });
    await handle([restored]);
    expect(await item(fans[1]!, modded.postId)).toMatchObject({ sourceVersion: 3 });
    expect(await item(fans[0]!, modded.postId)).toBeUndefined(); // fans[0] now blocks the author
  });

  it('caps each feed at feedCap, dropping the oldest items', async () => {
    await fresh({ feedCap: 5 });
    const author = await canon.user('author');
    const fan = await canon.user('fan');
    await canon.follow(fan, author);
    const handle = createPostFanoutHandler(ctx, { capCheckEvery: 1 });
    const posts: Stored<PostDoc>[] = [];
    for (let i = 0; i < 8; i++) posts.push(await postDoc(author));
    const outcomes = await handle(posts);
    expect(outcomes.reduce((s, o) => s + o.removed, 0)).toBe(6); // 3 trimmed from each of 2 feeds
    const newestFirst = posts
      .map((p) => p.postId)
      .reverse()
      .slice(0, 5);
    expect(await feedOf(proj.store, fan)).toEqual(newestFirst);
    expect(await feedOf(proj.store, author)).toEqual(newestFirst);
  });

  it('checks sampled feeds by size in one call: feeds under the cap are not read', async () => {
    await fresh({ feedCap: 3 });
    const author = await canon.user('author');
    const fans = await canon.bulkFollowers(author, 6);
    const feed = proj.store.container('userFeed');
    const calls: string[] = [];
    const spy = Object.create(proj.store) as typeof proj.store;
    spy.container = (name: string) => {
      const c = Object.create(proj.store.container(name)) as typeof feed;
      if (name === 'userFeed') {
        c.countPerPartition = (keys, o) => {
          calls.push(`count ${keys.length}`);
          return feed.countPerPartition(keys, o);
        };
        c.query = (q) => {
          calls.push('query');
          return feed.query(q);
        };
      }
      return c;
    };
    const handle = createPostFanoutHandler(pipelineContext(canon.db, spy, { feedCap: 3 }), {
      capCheckEvery: 1,
    });
    for (let i = 0; i < 3; i++) await handle([await postDoc(author)]);
    // Three posts: each checks the author and six fans in one count, and reads no feed.
    expect(calls).toEqual(['count 7', 'count 7', 'count 7']);
    calls.length = 0;
    const fourth = await postDoc(author);
    const [outcome] = await handle([fourth]);
    // Now every feed holds four items: one count, then a trim (a feed read) for each.
    expect(calls[0]).toBe('count 7');
    expect(calls.filter((c) => c === 'query')).toHaveLength(7);
    expect(outcome!.removed).toBe(7);
    for (const f of [author, ...fans]) expect(await feedOf(proj.store, f)).toHaveLength(3);
  });

  it('the sampled cap check is deterministic and about 1 in capCheckEvery', () => {
    expect(shouldCheckCap('r', 'p', 1)).toBe(true);
    const hits = Array.from({ length: 4000 }, (_, i) => shouldCheckCap(`r${i}`, 'p', 32)).filter(
      Boolean,
    ).length;
    expect(hits).toBeGreaterThan(4000 / 32 / 2);
    expect(hits).toBeLessThan((4000 / 32) * 2);
    expect(shouldCheckCap('r7', 'p9', 32)).toBe(shouldCheckCap('r7', 'p9', 32));
  });

  it('authors above the follower threshold are not fanned out (merged at read time)', async () => {
    await fresh({ fanoutFollowerThreshold: 3 });
    const popular = await canon.user('popular');
    const modest = await canon.user('modest');
    const popularFans = await canon.bulkFollowers(popular, 4);
    const modestFans = await canon.bulkFollowers(modest, 3);
    const handle = createPostFanoutHandler(ctx);
    const [p, m] = await handle([await postDoc(popular), await postDoc(modest)]);
    expect(p).toMatchObject({ action: 'skipped-popular-author', written: 1 }); // only the author's own feed
    expect(m).toMatchObject({ action: 'delivered', written: 4 });
    for (const f of popularFans) expect(await feedOf(proj.store, f)).toEqual([]);
    for (const f of modestFans) expect(await feedOf(proj.store, f)).toEqual([m!.postId]);
    expect(await feedOf(proj.store, popular)).toEqual([p!.postId]);
  });

  it('two hosts handling different versions of one post at once converge on the newest', async () => {
    await fresh();
    const author = await canon.user('author');
    const fans = await canon.bulkFollowers(author, 12);
    const handle = createPostFanoutHandler(ctx, { batchSize: 3, concurrency: 2 });
    for (let round = 0; round < 3; round++) {
      const v1 = await postDoc(author, { text: 'v1' });
      const v2 = await postDoc(author, { postId: v1.postId, text: 'v2', sourceVersion: 2 });
      await Promise.all([handle([v1]), handle([v2]), handle([v1])]);
      for (const f of [author, ...fans]) {
        expect(await item(f, v1.postId)).toMatchObject({ text: 'v2', sourceVersion: 2 });
      }
    }
  });

  it('a store failure mid fan-out fails the batch; the redelivery completes it', async () => {
    await fresh();
    const author = await canon.user('author');
    const fans = await canon.bulkFollowers(author, 9);
    let bulkCalls = 0;
    const flaky = {
      ...proj.store,
      container: (name: string) => {
        const c = proj.store.container(name);
        if (name !== 'userFeed') return c;
        return new Proxy(c, {
          get(target, prop, recv) {
            const v = Reflect.get(target, prop, recv);
            if (prop !== 'upsertCopies' || typeof v !== 'function')
              return typeof v === 'function' ? v.bind(target) : v;
            return (...args: unknown[]) => {
              if (++bulkCalls === 3)
                return Promise.reject(new Error('userFeed unavailable (injected)'));
              return v.apply(target, args);
            };
          },
        });
      },
    };
    const handle = createPostFanoutHandler(
      { ...ctx, store: flaky },
      { batchSize: 3, concurrency: 1 },
    );
    const post = await postDoc(author);
    await expect(handle([post])).rejects.toThrow(/injected/);
    const partial = await Promise.all(fans.map((f) => item(f, post.postId)));
    expect(partial.filter(Boolean).length).toBeLessThan(fans.length);
    await handle([post]); // what the processor does: the batch was not checkpointed
    for (const f of [author, ...fans])
      expect(await item(f, post.postId)).toMatchObject({ sourceVersion: 1 });
  });

  it('skips malformed change documents instead of failing the batch', async () => {
    await fresh();
    const author = await canon.user('author');
    const handle = createPostFanoutHandler(ctx);
    const good = await postDoc(author);
    const bad = { id: 'x', _etag: 'e', _ts: 0 } as unknown as Stored<PostDoc>;
    const out = await handle([bad, good]);
    expect(out.map((o) => o.postId)).toEqual([good.postId]);
  });
});
