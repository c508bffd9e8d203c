import { describe, expect, it } from 'vitest';
import { ReadCache } from '../../src/projections/read-cache.ts';
import { CONTAINERS } from '../../src/readmodel/documents.ts';
import { engineName } from '../support/databases.ts';
import { useEmbeddedStore } from '../support/use-stores.ts';
import { expectError } from './contract.ts';

/**
 * The hydration read cache over the real embedded store: readMany answered from memory
 * within the TTL, and never an older document than this process's own latest write.
 */
describe(`read cache over the embedded store on ${engineName}`, () => {
  const s = useEmbeddedStore({ reset: 'each' });
  const post = (id: string, text: string) => ({ id, postId: id, text });
  const key = (id: string) => ({ id, partitionKey: id });
  const texts = async (c: { readMany: typeof raw.readMany }, ids: string[]) =>
    (await c.readMany<{ id: string; text: string }>(ids.map(key))).items.map((d) => d.text);
  let raw: ReturnType<typeof s.store.container>;
  const views = (ttlMs: number) => {
    raw = s.store.container(CONTAINERS.posts);
    const cache = new ReadCache({ containers: [CONTAINERS.posts], ttlMs, maxEntries: 100 });
    return {
      reads: cache.reading(s.store).container(CONTAINERS.posts),
      writes: cache.writing(s.store).container(CONTAINERS.posts),
    };
  };

  it('serves a second readMany from memory within the TTL, and from the store after it', async () => {
    const { reads } = views(300);
    await raw.upsert(post('p1', 'one'));
    expect(await texts(reads, ['p1', 'missing'])).toEqual(['one']);
    // Written behind the cache's back (another process): not seen until the TTL passes.
    await raw.upsert(post('p1', 'one, edited elsewhere'));
    const cached = await reads.readMany(['p1'].map(key));
    expect(cached.items.map((d) => d.text)).toEqual(['one']);
    expect(cached.requestCharge).toBe(0);
    await new Promise((r) => setTimeout(r, 350));
    expect(await texts(reads, ['p1'])).toEqual(['one, edited elsewhere']);
  });

  it('drops a key on every write through either view, so this process reads its own writes', async () => {
    const { reads, writes } = views(60_000);
    await raw.upsert(post('p1', 'v1'));
    await raw.upsert(post('p2', 'v1'));
    expect(await texts(reads, ['p1', 'p2'])).toEqual(['v1', 'v1']);
    await writes.upsert(post('p1', 'v2'));
    await writes.bulk([{ op: 'upsert', doc: post('p2', 'v2') }]);
    expect(await texts(reads, ['p1', 'p2'])).toEqual(['v2', 'v2']);
    await writes.patch('p1', 'p1', [{ op: 'set', path: '/text', value: 'v3' }]);
    await reads.delete('p2', 'p2');
    expect(await texts(reads, ['p2', 'p1', 'p1'])).toEqual(['v3']);
    await writes.upsertCopies([
      { doc: post('p1', 'v4'), targets: [{ id: 'p1', partitionKey: 'p1' }] },
    ]);
    expect(await texts(reads, ['p1'])).toEqual(['v4']);
    // Input too malformed to name its keys reaches the store, which refuses it.
    await expectError(
      writes.upsertCopies([{ doc: post('p1', 'v5'), targets: [null] }] as never),
      'bad_request',
    );
    await expectError(writes.bulk([null] as never), 'bad_request');
    expect(await texts(reads, ['p1'])).toEqual(['v4']);
  });

  it('does not keep a document read while a write to its container was in flight', async () => {
    const { reads, writes } = views(60_000);
    await raw.upsert(post('p1', 'old'));
    const reading = reads.readMany(['p1'].map(key));
    const writing = writes.upsert(post('p1', 'new'));
    await Promise.all([reading, writing]);
    expect(await texts(reads, ['p1'])).toEqual(['new']);
  });

  it('is the store itself when the TTL is 0', () => {
    const cache = new ReadCache({ containers: [CONTAINERS.posts], ttlMs: 0, maxEntries: 1 });
    expect(cache.reading(s.store)).toBe(s.store);
  });
});
