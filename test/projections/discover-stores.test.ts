import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainContext } from '../../src/domain/context.ts';
import { discoverPosts, discoverUsers } from '../../src/domain/discover.ts';
import type { PostSnapshot } from '../../src/events/catalogue.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { ProjectionStore } from '../../src/projections/port.ts';
import { postDoc, postTagDocs, profileDoc } from '../../src/readmodel/builders.ts';
import { CONTAINERS } from '../../src/readmodel/documents.ts';
import { insertProfile } from '../canonical/fixtures.ts';
import { insertUser } from '../support/canon.ts';
import { canonicalDb, engineName, type ScratchDb } from '../support/databases.ts';
import { cosmosStore, embeddedStore } from '../support/projections.ts';

/**
 * The discovery queries on both projection stores: the same documents, the same calls, the
 * same pages. On Cosmos through the real SDK against the in-process emulator (or a real
 * account with COSMOS_ENDPOINT): posts_v2 across partitions on (status, createdAt), one
 * postTags partition, and a range on publicProfiles' (privacyLevel, displayNameKey, userId).
 */
const stores: [string, () => Promise<{ store: ProjectionStore; close(): Promise<void> }>][] = [
  [`embedded (${engineName})`, () => embeddedStore()],
  [
    process.env.COSMOS_ENDPOINT ? 'cosmos (real account)' : 'cosmos (emulator)',
    () => cosmosStore(),
  ],
];

describe.each(stores)('discovery queries on %s', (_name, open) => {
  let canon: ScratchDb;
  let s: { store: ProjectionStore; close(): Promise<void> };
  let ctx: DomainContext;
  let viewer: string;
  let alice: string;
  let blocked: string;
  const newestFirst: string[] = [];
  const tagged: string[] = [];

  const post = (i: number, authorId: string, createdAt: string, tags: string[]): PostSnapshot => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    authorId,
    text: `post ${i}`,
    tags,
    status: 'published',
    version: 1,
    createdAt,
    updatedAt: createdAt,
  });

  beforeAll(async () => {
    [canon, s] = await Promise.all([canonicalDb(), open()]);
    ctx = {
      db: canon.db,
      workerDb: canon.db,
      store: s.store,
      fanoutFollowerThreshold: 1000,
      log: silentLogger,
    };
    viewer = await insertUser(canon.db, { email: 'viewer@example.com', profile: false });
    alice = await insertUser(canon.db, { email: 'alice@example.com', profile: false });
    blocked = await insertUser(canon.db, { email: 'blocked@example.com', profile: false });
    await canon.db.query('INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)', [
      viewer,
      blocked,
    ]);
    const posts = s.store.container(CONTAINERS.posts);
    const tags = s.store.container(CONTAINERS.postTags);
    // 24 posts over 8 timestamps (ties of 3: paging must not split or repeat them).
    const all: PostSnapshot[] = [];
    for (let i = 0; i < 24; i++) {
      const at = new Date(Date.UTC(2025, 0, 1, 0, Math.floor(i / 3))).toISOString();
      const author = i % 6 === 5 ? blocked : alice;
      all.push(post(i, author, at, i % 2 === 0 ? ['Café'] : ['other']));
    }
    const removed = {
      ...post(99, alice, '2025-02-01T00:00:00.000Z', ['Café']),
      status: 'removed' as const,
    };
    for (const p of [...all, removed]) {
      await posts.upsert(postDoc(p));
      for (const d of postTagDocs(p)) await tags.upsert(d);
    }
    const order = [...all].sort((a, b) =>
      a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
    );
    for (const p of order) {
      if (p.authorId === blocked) continue;
      newestFirst.push(p.id);
      if (p.tags.includes('Café')) tagged.push(p.id);
    }
    const profiles = s.store.container(CONTAINERS.publicProfiles);
    const names: [string, string, 'public' | 'followers' | 'private'][] = [
      [alice, 'Ångström Alice', 'public'],
      [blocked, 'Ang Blocked', 'public'],
      [viewer, 'angela viewer', 'public'],
    ];
    for (const [userId, displayName, privacyLevel] of names) {
      await insertProfile(canon.db, userId, privacyLevel, displayName);
      await profiles.upsert(
        profileDoc({
          userId,
          displayName,
          bio: 'b',
          avatarUrl: null,
          privacyLevel,
          version: 1,
          updatedAt: '2025-01-01T00:00:00.000Z',
        }),
      );
    }
    // Many same-prefix profiles, some not public: a name page must skip them and still fill.
    for (let i = 0; i < 12; i++) {
      const userId = `10000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      await profiles.upsert(
        profileDoc({
          userId,
          displayName: `Anders ${String(i).padStart(2, '0')}`,
          bio: null,
          avatarUrl: null,
          privacyLevel: i % 3 === 0 ? 'private' : 'public',
          version: 1,
          updatedAt: '2025-01-01T00:00:00.000Z',
        }),
      );
    }
  }, 240_000);
  afterAll(async () => {
    await s?.close();
    await canon?.close();
  });

  async function pages<T>(
    read: (cursor?: string) => Promise<{ items: T[]; cursor: string | null }>,
  ): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < 100; n++) {
      const page = await read(cursor);
      out.push(...page.items);
      if (!page.cursor) return out;
      cursor = page.cursor;
    }
    throw new Error('paging did not end');
  }

  it('pages recent posts newest first, each once, ties intact, blocked author and removed post left out', {
    timeout: 120_000,
  }, async () => {
    // Each page is a cross-partition query: about a second on the emulator, so few pages.
    for (const limit of [5, 50]) {
      const got = await pages((cursor) => discoverPosts(ctx, viewer, { limit, cursor }));
      expect(got.map((p) => p.id)).toEqual(newestFirst);
    }
  });

  it('pages one tag from its postTags partition, accent- and case-insensitively', {
    timeout: 120_000,
  }, async () => {
    for (const tag of ['cafe', 'CAFÉ']) {
      const got = await pages((cursor) => discoverPosts(ctx, viewer, { limit: 3, cursor, tag }));
      expect(got.map((p) => p.id)).toEqual(tagged);
    }
  });

  it('finds public profiles by prefix in name order, skipping non-public and blocked ones', {
    timeout: 120_000,
  }, async () => {
    const ang = await pages((cursor) => discoverUsers(ctx, viewer, { limit: 1, cursor, q: 'ANG' }));
    expect(ang.map((p) => p.displayName)).toEqual(['angela viewer', 'Ångström Alice']);
    const anders = await pages((cursor) =>
      discoverUsers(ctx, viewer, { limit: 3, cursor, q: 'anders' }),
    );
    expect(anders.map((p) => p.displayName)).toEqual(
      [1, 2, 4, 5, 7, 8, 10, 11].map((i) => `Anders ${String(i).padStart(2, '0')}`),
    );
  });
});
