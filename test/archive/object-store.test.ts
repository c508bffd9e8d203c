import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobStore } from '../../src/archive/blob-store.ts';
import { createDirectoryStore } from '../../src/archive/directory-store.ts';
import { type ObjectStore, ObjectStoreError } from '../../src/archive/object-store.ts';
import { type Azurite, startAzurite } from '../support/azurite.ts';

/** One contract for both cold-storage adapters: Azure Blob (on Azurite) and a directory. */
const adapters: [string, () => Promise<{ store: ObjectStore; close(): Promise<void> }>][] = [
  [
    'directory',
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'asora-objects-'));
      return {
        store: createDirectoryStore(dir),
        close: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    'azure blob (Azurite)',
    async () => {
      const azurite: Azurite = await startAzurite();
      return {
        store: createBlobStore({
          connectionString: azurite.connectionString,
          container: `t-${randomBytes(4).toString('hex')}`,
        }),
        close: () => azurite.stop(),
      };
    },
  ],
];

describe.each(adapters)('object store contract: %s', (_name, open) => {
  let s: { store: ObjectStore; close(): Promise<void> };
  beforeAll(async () => {
    s = await open();
  }, 90_000);
  afterAll(async () => {
    await s?.close();
  });

  it('puts, gets, replaces and deletes whole objects; a missing key reads as undefined', async () => {
    const body = randomBytes(70_000);
    await s.store.put('posts/2024/03/a.jsonl.gz', body);
    expect((await s.store.get('posts/2024/03/a.jsonl.gz'))?.equals(body)).toBe(true);
    await s.store.put('posts/2024/03/a.jsonl.gz', Buffer.from('v2'));
    expect((await s.store.get('posts/2024/03/a.jsonl.gz'))?.toString()).toBe('v2');
    expect(await s.store.get('posts/2024/03/missing.jsonl.gz')).toBeUndefined();
    await s.store.delete('posts/2024/03/a.jsonl.gz');
    await s.store.delete('posts/2024/03/a.jsonl.gz'); // already gone: still fine
    expect(await s.store.get('posts/2024/03/a.jsonl.gz')).toBeUndefined();
  });

  it('lists keys under a prefix, sorted, across nested months', async () => {
    for (const k of [
      'audit/2024/02/b.jsonl.gz',
      'audit/2024/01/a.jsonl.gz',
      'audit/2025/01/c.json',
    ])
      await s.store.put(k, Buffer.from(k));
    await s.store.put('posts/2024/01/x.jsonl.gz', Buffer.from('x'));
    expect(await s.store.list('audit/')).toEqual([
      'audit/2024/01/a.jsonl.gz',
      'audit/2024/02/b.jsonl.gz',
      'audit/2025/01/c.json',
    ]);
    expect(await s.store.list('audit/2024/')).toHaveLength(2);
    expect(await s.store.list('nothing/')).toEqual([]);
  });

  it('refuses keys that could escape or differ between adapters, writing nothing', async () => {
    for (const bad of ['../x', '/abs', 'a//b', 'A/upper', 'a/./b', 'a/../b', '', 'a\\b'])
      await expect(s.store.put(bad, Buffer.from('x'))).rejects.toBeInstanceOf(ObjectStoreError);
    expect(await s.store.list('')).not.toContain('x');
  });
});

describe('directory store', () => {
  it('leaves no temporary file behind and never exposes a half-written object', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'asora-objects-'));
    try {
      const store = createDirectoryStore(dir);
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.put('p/2024/01/f.jsonl.gz', Buffer.alloc(50_000, i)),
        ),
      );
      const got = (await store.get('p/2024/01/f.jsonl.gz')) as Buffer;
      expect(got.length).toBe(50_000);
      expect(new Set(got).size).toBe(1); // one writer's bytes, whole
      expect(await readdir(path.join(dir, 'p/2024/01'))).toEqual(['f.jsonl.gz']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
