import { beforeAll, describe, expect, it } from 'vitest';
import type { Doc, ProjectionContainer, WriteOptions } from '../../../src/projections/port.ts';
import { canonicalCount, recomputeCounter } from '../../../src/readmodel/counters.ts';
import {
  CONTAINERS,
  type CounterDoc,
  counterId,
  type PostDoc,
} from '../../../src/readmodel/documents.ts';
import { refreshPostCounts, upsertPostDoc } from '../../../src/readmodel/post-writes.ts';
import { Canon } from '../../support/canon.ts';
import { engineName } from '../../support/databases.ts';
import { useCanonicalDb, useEmbeddedStore } from '../../support/use-stores.ts';

/**
 * The real container, except that its first upsert waits at a gate: the recompute has read
 * the document and counted in canonical, and its write is held back while others run.
 */
function heldAtFirstWrite(real: ProjectionContainer) {
  let reached!: () => void;
  let release!: () => void;
  const atWrite = new Promise<void>((r) => {
    reached = r;
  });
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let first = true;
  const container = Object.create(real) as ProjectionContainer;
  container.upsert = async <T extends Doc>(doc: T, opts?: WriteOptions) => {
    if (first) {
      first = false;
      reached();
      await gate;
    }
    return real.upsert(doc, opts);
  };
  return { container, atWrite, release };
}

describe(`reaction counts under concurrent recomputes (${engineName})`, () => {
  const canonical = useCanonicalDb();
  const proj = useEmbeddedStore();
  let canon: Canon;

  beforeAll(() => {
    canon = new Canon(canonical.db);
  });

  it('posts_v2: a recompute that counted before a newer reaction never overwrites the newer count', async () => {
    const db = canon.db;
    const [author, early, late] = await Promise.all(
      ['author', 'early', 'late'].map((x) => canon.user(x)),
    );
    const post = await canon.post(author!, 'p');
    const posts = proj.store.container(CONTAINERS.posts);
    await upsertPostDoc(posts, post);
    await canon.react(early!, post.id, 'like');

    // A starts: reads the document, counts 1 like, and is held before its write
    // (the lost update once seen: a count written 8 s after it was read).
    const slow = heldAtFirstWrite(posts);
    const a = refreshPostCounts(db, slow.container, post.id);
    await slow.atWrite;
    // Meanwhile a second like lands and its recompute writes 2.
    await canon.react(late!, post.id, 'like');
    expect((await refreshPostCounts(db, posts, post.id))?.like).toBe(2);
    // A's write now fails its etag condition, so A counts again instead of writing 1.
    slow.release();
    expect((await a)?.like).toBe(2);
    const doc = (await posts.read<PostDoc>(post.id, post.id)).resource!;
    expect(doc.counts?.like).toBe(2);
    expect(doc.counts?.like).toBe(await canonicalCount(db, post.id, 'likes'));
  });

  it('counters: the same race on a post likes counter ends at the canonical count', async () => {
    const db = canon.db;
    const [author, early, late] = await Promise.all(
      ['author2', 'early2', 'late2'].map((x) => canon.user(x)),
    );
    const post = await canon.post(author!, 'p');
    const counters = proj.store.container(CONTAINERS.counters);
    await canon.react(early!, post.id, 'like');
    await recomputeCounter(db, counters, post.id, 'likes'); // the document exists: next writes upsert

    const slow = heldAtFirstWrite(counters);
    const a = recomputeCounter(db, slow.container, post.id, 'likes');
    await slow.atWrite;
    await canon.react(late!, post.id, 'like');
    expect(await recomputeCounter(db, counters, post.id, 'likes')).toBe(2);
    slow.release();
    expect(await a).toBe(2);
    const doc = (await counters.read<CounterDoc>(counterId(post.id, 'likes'), post.id)).resource;
    expect(doc?.value).toBe(2);
  });

  it('a reaction before the post document exists creates it from canonical with its count', async () => {
    const db = canon.db;
    const [author, fan] = await Promise.all(['author3', 'fan3'].map((x) => canon.user(x)));
    const post = await canon.post(author!, 'p');
    await canon.react(fan!, post.id, 'heart');
    const posts = proj.store.container(CONTAINERS.posts);
    expect((await refreshPostCounts(db, posts, post.id))?.heart).toBe(1);
    // The post event arriving afterwards (same version) keeps the document and its count.
    await upsertPostDoc(posts, post);
    const doc = (await posts.read<PostDoc>(post.id, post.id)).resource!;
    expect(doc).toMatchObject({ text: 'p', sourceVersion: post.version });
    expect(doc.counts?.heart).toBe(1);
  });
});
