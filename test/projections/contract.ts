import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ContainerDef,
  type Doc,
  type FeedRange,
  isProjectionError,
  type ProjectionContainer,
  type ProjectionErrorCode,
  type ProjectionStore,
  type Stored,
  type StoreObserver,
} from '../../src/projections/port.ts';

/**
 * The one contract every projection-store adapter must pass. Each test works in partition
 * keys of its own (random prefix), so one store serves the whole suite.
 */

export interface StoreHandle {
  store: ProjectionStore;
  close(): Promise<void>;
}

export type StoreFactory = (opts: {
  observer?: StoreObserver;
  definitions?: ContainerDef[];
}) => Promise<StoreHandle>;

export interface ContractOptions {
  /** Reason to skip the change-feed cases, or undefined to run them. */
  skipChangeFeed?: string;
  /** Reason to skip the TTL cases, or undefined to run them. */
  skipTtl?: string;
}

export const uid = (p = 'k'): string => `${p}${randomBytes(5).toString('hex')}`;

export async function expectError(p: Promise<unknown>, code: ProjectionErrorCode): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ProjectionError '${code}'`).toBeDefined();
  expect(isProjectionError(err), `not a ProjectionError: ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads every feed range to its end from the given continuations; returns items per range. */
export async function drainChanges(
  c: ProjectionContainer,
  from: Map<string, string | null> = new Map(),
): Promise<{ items: { range: string; doc: Stored }[]; continuations: Map<string, string | null> }> {
  const items: { range: string; doc: Stored }[] = [];
  const continuations = new Map(from);
  for (const r of await c.feedRanges()) {
    let cont = continuations.get(r.id) ?? null;
    for (;;) {
      const page = await c.readChanges(r, cont, 50);
      expect(page.requestCharge).toBeGreaterThan(0);
      cont = page.continuation;
      for (const doc of page.items) items.push({ range: r.id, doc });
      if (page.items.length === 0) break;
    }
    continuations.set(r.id, cont);
  }
  return { items, continuations };
}

/**
 * Reads from `from` until `settled` holds for what was read (each attempt starts again at
 * `from`, so nothing is counted twice). A feed may lag: the embedded store waits for older
 * transactions anywhere on the server to finish, Cosmos for replication.
 */
export async function drainSettled(
  c: ProjectionContainer,
  from: Map<string, string | null>,
  settled: (items: { range: string; doc: Stored }[]) => boolean,
  timeoutMs = 30_000,
): Promise<{ items: { range: string; doc: Stored }[]; continuations: Map<string, string | null> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await drainChanges(c, from);
    if (settled(r.items) || Date.now() > deadline) return r;
    await sleep(200);
  }
}

export function projectionContract(
  name: string,
  factory: StoreFactory,
  opts: ContractOptions = {},
): void {
  describe(`projection store contract: ${name}`, () => {
    let h: StoreHandle;
    const calls: { container: string; operation: string; requestCharge: number }[] = [];
    const observer: StoreObserver = { onRequest: (e) => calls.push(e) };
    let feed: ProjectionContainer;
    let posts: ProjectionContainer;
    let reactions: ProjectionContainer;
    let notifications: ProjectionContainer;

    beforeAll(async () => {
      h = await factory({ observer });
      feed = h.store.container('userFeed');
      posts = h.store.container('posts_v2');
      reactions = h.store.container('reactions');
      notifications = h.store.container('notifications');
    }, 180_000);
    afterAll(async () => {
      await h?.close();
    });

    const feedItem = (recipientId: string, n: number, extra: Record<string, unknown> = {}) => ({
      id: `${recipientId}:p${n}`,
      recipientId,
      postId: `p${n}`,
      authorId: 'a1',
      text: `post ${n}`,
      createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, n)).toISOString(),
      ...extra,
    });

    describe('items', () => {
      it('upserts and reads back with _etag, _ts and a request charge; a missing item reads as undefined', async () => {
        const r = uid('r');
        const w = await feed.upsert(feedItem(r, 1));
        expect(w.requestCharge).toBeGreaterThan(0);
        expect(typeof w.resource._etag).toBe('string');
        expect(w.resource._ts).toBeGreaterThan(1_600_000_000);
        const got = await feed.read(`${r}:p1`, r);
        expect(got.resource).toMatchObject({
          id: `${r}:p1`,
          recipientId: r,
          text: 'post 1',
          _etag: w.resource._etag,
        });
        expect(got.requestCharge).toBeGreaterThan(0);
        expect((await feed.read(`${r}:p1`, uid('other'))).resource).toBeUndefined();
        expect((await feed.read('nope', r)).resource).toBeUndefined();
      });

      it('issues a new etag on every write and replaces the whole document', async () => {
        const r = uid('r');
        const a = await feed.upsert(feedItem(r, 1, { extra: 1 }));
        const b = await feed.upsert(feedItem(r, 1, { text: 'edited' }));
        expect(b.resource._etag).not.toBe(a.resource._etag);
        const got = (await feed.read(`${r}:p1`, r)).resource;
        expect(got?.text).toBe('edited');
        expect(got).not.toHaveProperty('extra');
      });

      it('create refuses an existing id with conflict and leaves the stored item alone', async () => {
        const r = uid('r');
        await feed.create(feedItem(r, 1));
        await expectError(feed.create(feedItem(r, 1, { text: 'second' })), 'conflict');
        expect((await feed.read(`${r}:p1`, r)).resource?.text).toBe('post 1');
      });

      it('ifMatch: the current etag wins, a stale one fails with precondition_failed and writes nothing', async () => {
        const r = uid('r');
        const first = await feed.upsert(feedItem(r, 1));
        const second = await feed.upsert(feedItem(r, 1, { text: 'v2' }), {
          ifMatch: first.resource._etag,
        });
        await expectError(
          feed.upsert(feedItem(r, 1, { text: 'v3' }), { ifMatch: first.resource._etag }),
          'precondition_failed',
        );
        expect((await feed.read(`${r}:p1`, r)).resource?.text).toBe('v2');
        await expectError(
          feed.delete(`${r}:p1`, r, { ifMatch: first.resource._etag }),
          'precondition_failed',
        );
        expect((await feed.read(`${r}:p1`, r)).resource).toBeDefined();
        await expectError(
          feed.upsert(feedItem(r, 9), { ifMatch: second.resource._etag }),
          'precondition_failed',
        );
        expect((await feed.read(`${r}:p9`, r)).resource).toBeUndefined();
        expect((await feed.delete(`${r}:p1`, r, { ifMatch: second.resource._etag })).deleted).toBe(
          true,
        );
      });

      it('delete reports whether the item existed', async () => {
        const r = uid('r');
        await feed.upsert(feedItem(r, 1));
        expect((await feed.delete(`${r}:p1`, r)).deleted).toBe(true);
        expect((await feed.read(`${r}:p1`, r)).resource).toBeUndefined();
        const again = await feed.delete(`${r}:p1`, r);
        expect(again.deleted).toBe(false);
        // A miss is still a request with a price (Cosmos charges a 404 too): never free.
        expect(again.requestCharge).toBeGreaterThan(0);
      });

      it('readMany returns the items that exist and skips the others', async () => {
        const r = uid('r');
        await feed.upsert(feedItem(r, 1));
        await feed.upsert(feedItem(r, 2));
        const page = await feed.readMany([
          { id: `${r}:p2`, partitionKey: r },
          { id: `${r}:p3`, partitionKey: r },
          { id: `${r}:p1`, partitionKey: r },
        ]);
        expect(page.items.map((d) => d.id).sort()).toEqual([`${r}:p1`, `${r}:p2`]);
        expect(page.continuation).toBeNull();
        expect((await feed.readMany([])).items).toEqual([]);
      });

      it('reports every call to the observer with its container, operation and charge', async () => {
        const before = calls.length;
        const r = uid('r');
        await feed.upsert(feedItem(r, 1));
        await feed.read(`${r}:p1`, r);
        const mine = calls.slice(before);
        expect(mine.map((c) => c.operation)).toEqual(['upsert', 'read']);
        expect(mine.every((c) => c.container === 'userFeed' && c.requestCharge > 0)).toBe(true);
      });
    });

    describe('patch', () => {
      it('applies set, incr and remove atomically and returns the new document', async () => {
        const s = uid('s');
        const counters = h.store.container('counters');
        await counters.upsert({
          id: `${s}:likes`,
          subjectId: s,
          value: 1,
          gone: true,
          nested: { a: 1 },
        });
        const w = await counters.patch<Doc & { value: number }>(`${s}:likes`, s, [
          { op: 'incr', path: '/value', value: 2 },
          { op: 'set', path: '/updatedAt', value: '2024-01-01T00:00:00.000Z' },
          { op: 'set', path: '/nested/b', value: 2 },
          { op: 'remove', path: '/gone' },
        ]);
        expect(w.resource.value).toBe(3);
        const got = (await counters.read(`${s}:likes`, s)).resource;
        expect(got).toMatchObject({
          value: 3,
          updatedAt: '2024-01-01T00:00:00.000Z',
          nested: { a: 1, b: 2 },
        });
        expect(got).not.toHaveProperty('gone');
        expect(got?._etag).toBe(w.resource._etag);
      });

      it('incr creates a missing number; concurrent increments are all counted', async () => {
        const s = uid('s');
        const counters = h.store.container('counters');
        await counters.upsert({ id: `${s}:f`, subjectId: s });
        await Promise.all(
          Array.from({ length: 10 }, () =>
            counters.patch(`${s}:f`, s, [{ op: 'incr', path: '/value', value: 1 }]),
          ),
        );
        expect((await counters.read<Doc & { value: number }>(`${s}:f`, s)).resource?.value).toBe(
          10,
        );
      });

      it('fails with not_found on a missing item, precondition_failed on a stale etag', async () => {
        const s = uid('s');
        const counters = h.store.container('counters');
        await expectError(
          counters.patch('nope', s, [{ op: 'incr', path: '/value', value: 1 }]),
          'not_found',
        );
        const w = await counters.upsert({ id: `${s}:x`, subjectId: s, value: 1 });
        await counters.patch(`${s}:x`, s, [{ op: 'incr', path: '/value', value: 1 }]);
        await expectError(
          counters.patch(`${s}:x`, s, [{ op: 'incr', path: '/value', value: 1 }], {
            ifMatch: w.resource._etag,
          }),
          'precondition_failed',
        );
        expect((await counters.read<Doc & { value: number }>(`${s}:x`, s)).resource?.value).toBe(2);
      });

      it('rejects more than 10 operations, and patching id or the partition key, writing nothing', async () => {
        const s = uid('s');
        const counters = h.store.container('counters');
        await counters.upsert({ id: `${s}:x`, subjectId: s, value: 1 });
        const eleven = Array.from({ length: 11 }, () => ({
          op: 'incr' as const,
          path: '/value',
          value: 1,
        }));
        await expectError(counters.patch(`${s}:x`, s, eleven), 'bad_request');
        await expectError(
          counters.patch(`${s}:x`, s, [{ op: 'set', path: '/subjectId', value: 'other' }]),
          'bad_request',
        );
        await expectError(
          counters.patch(`${s}:x`, s, [{ op: 'set', path: '/id', value: 'other' }]),
          'bad_request',
        );
        await expectError(counters.patch(`${s}:x`, s, []), 'bad_request');
        expect((await counters.read<Doc & { value: number }>(`${s}:x`, s)).resource?.value).toBe(1);
      });
    });

    describe('queries', () => {
      it('pages a partition newest first with continuation tokens, each item exactly once', async () => {
        const r = uid('r');
        const other = uid('r');
        for (let n = 1; n <= 11; n++) await feed.upsert(feedItem(r, n));
        await feed.upsert(feedItem(other, 99));
        const seen: string[] = [];
        let continuation: string | null = null;
        let pages = 0;
        do {
          const page: Awaited<ReturnType<typeof feed.query>> = await feed.query({
            partitionKey: r,
            orderBy: [{ field: 'createdAt', direction: 'DESC' }],
            limit: 4,
            continuation,
          });
          expect(page.items.length).toBeLessThanOrEqual(4);
          expect(page.requestCharge).toBeGreaterThan(0);
          seen.push(...page.items.map((d) => d.postId as string));
          continuation = page.continuation;
          pages++;
        } while (continuation && pages < 10);
        expect(seen).toEqual(Array.from({ length: 11 }, (_, i) => `p${11 - i}`));
        expect(pages).toBe(3);
      });

      it('pages a cross-partition ORDER BY (author and status listings) with ties, each item exactly once', async () => {
        const author = uid('a');
        const status = uid('s');
        const ids: string[] = [];
        for (let n = 0; n < 15; n++) {
          const id = uid(`post${String(n).padStart(2, '0')}`);
          ids.push(id);
          // Pairs share a createdAt: the id breaks the tie.
          const createdAt = new Date(Date.UTC(2024, 1, 1, 0, 0, Math.floor(n / 2))).toISOString();
          await posts.upsert({ id, postId: id, authorId: author, status, createdAt });
        }
        const expected = ids
          .map((id, n) => ({ id, t: Math.floor(n / 2) }))
          .sort((a, b) => b.t - a.t || (a.id < b.id ? 1 : -1))
          .map((x) => x.id);
        for (const field of ['authorId', 'status']) {
          const seen: string[] = [];
          let continuation: string | null = null;
          let pages = 0;
          do {
            const page: Awaited<ReturnType<typeof posts.query>> = await posts.query({
              filters: [{ field, op: '=', value: field === 'authorId' ? author : status }],
              orderBy: [{ field: 'createdAt', direction: 'DESC' }],
              limit: 4,
              continuation,
            });
            seen.push(...page.items.map((d) => d.id));
            continuation = page.continuation;
            pages++;
          } while (continuation && pages < 10);
          expect(seen).toEqual(expected);
          expect(pages).toBe(4);
        }
      });

      it('keeps paging correctly when items are added and removed between pages', async () => {
        const r = uid('r');
        for (let n = 10; n <= 19; n++) await feed.upsert(feedItem(r, n));
        const q = {
          partitionKey: r,
          orderBy: [{ field: 'createdAt', direction: 'DESC' as const }],
          limit: 4,
        };
        const first = await feed.query(q);
        expect(first.items.map((d) => d.postId)).toEqual(['p19', 'p18', 'p17', 'p16']);
        await feed.upsert(feedItem(r, 30)); // newer than everything: belongs before page 1
        await feed.delete(`${r}:p18`, r); // already shown
        const second = await feed.query({ ...q, continuation: first.continuation });
        expect(second.items.map((d) => d.postId)).toEqual(['p15', 'p14', 'p13', 'p12']);
      });

      it('resumes strictly before a (createdAt, id) keyset: items tied on createdAt are not read again', async () => {
        const r = uid('r');
        const tie = new Date(Date.UTC(2024, 0, 1, 0, 0, 5)).toISOString();
        for (let n = 1; n <= 8; n++)
          await feed.upsert(feedItem(r, n, n >= 3 && n <= 6 ? { createdAt: tie } : {}));
        const page = await feed.query({
          partitionKey: r,
          orderBy: [{ field: 'createdAt', direction: 'DESC' }],
          before: { field: 'createdAt', value: tie, id: `${r}:p5` },
          limit: 10,
        });
        // p8, p7 are newer; p6 and p5 sort at or before the keyset in (createdAt, id) DESC.
        const ids = page.items.map((d) => d.postId as string);
        expect([...ids].sort()).toEqual(['p1', 'p2', 'p3', 'p4']);
        expect(ids.slice(-2)).toEqual(['p2', 'p1']);
        await expectError(
          feed.query({
            partitionKey: r,
            before: { field: 'createdAt', value: 5 as unknown as string, id: 'x' },
            limit: 1,
          }),
          'bad_request',
        );
      });

      it('accepts the ORDER BY written with the partition key leading, like the composite index', async () => {
        const r = uid('r');
        for (let n = 1; n <= 3; n++) await feed.upsert(feedItem(r, n));
        const page = await feed.query({
          partitionKey: r,
          orderBy: [
            { field: 'recipientId', direction: 'ASC' },
            { field: 'createdAt', direction: 'DESC' },
          ],
          limit: 10,
        });
        expect(page.items.map((d) => d.postId)).toEqual(['p3', 'p2', 'p1']);
        expect(page.continuation).toBeNull();
      });

      it('filters by equality, range and boolean values', async () => {
        const p = uid('p');
        const at = (n: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, n)).toISOString();
        for (const [n, type] of [
          [1, 'like'],
          [2, 'love'],
          [3, 'like'],
          [4, 'like'],
        ] as const) {
          await reactions.upsert({
            id: `u${n}:${type}`,
            postId: p,
            userId: `u${n}`,
            type,
            createdAt: at(n),
          });
        }
        const likes = await reactions.query({
          partitionKey: p,
          filters: [{ field: 'type', op: '=', value: 'like' }],
          orderBy: [{ field: 'createdAt', direction: 'DESC' }],
          limit: 10,
        });
        expect(likes.items.map((d) => d.userId)).toEqual(['u4', 'u3', 'u1']);
        const recent = await reactions.query({
          partitionKey: p,
          filters: [
            { field: 'createdAt', op: '>=', value: at(2) },
            { field: 'type', op: '!=', value: 'love' },
          ],
          orderBy: [{ field: 'createdAt', direction: 'ASC' }],
          limit: 10,
        });
        expect(recent.items.map((d) => d.userId)).toEqual(['u3', 'u4']);

        const rc = uid('r');
        for (let n = 1; n <= 4; n++) {
          await notifications.upsert({
            id: `n${n}`,
            recipientId: rc,
            read: n % 2 === 0,
            createdAt: at(n),
            weight: n,
          });
        }
        const unread = await notifications.query({
          partitionKey: rc,
          filters: [{ field: 'read', op: '=', value: false }],
          orderBy: [{ field: 'createdAt', direction: 'DESC' }],
          limit: 10,
        });
        expect(unread.items.map((d) => d.id)).toEqual(['n3', 'n1']);
        const heavy = await notifications.query({
          partitionKey: rc,
          filters: [{ field: 'weight', op: '>', value: 2 }],
          limit: 10,
        });
        expect(heavy.items.map((d) => d.id).sort()).toEqual(['n3', 'n4']);
      });

      it('counts the items of many partitions in order, stopping at max; bad requests are refused', async () => {
        const [a, b, c] = [uid('r'), uid('r'), uid('r')];
        for (let n = 1; n <= 5; n++) await feed.upsert(feedItem(a, n));
        await feed.upsert(feedItem(c, 1));
        await feed.upsert(feedItem(c, 2));
        await feed.delete(`${c}:p2`, c);
        const r = await feed.countPerPartition([c, a, b], { max: 3 });
        expect(r.counts).toEqual([1, 3, 0]);
        expect(r.requestCharge).toBeGreaterThan(0);
        expect((await feed.countPerPartition([a], { max: 100 })).counts).toEqual([5]);
        expect((await feed.countPerPartition([], { max: 1 })).counts).toEqual([]);
        await expectError(feed.countPerPartition([a, ''], { max: 3 }), 'bad_request');
        await expectError(feed.countPerPartition([a], { max: 0 }), 'bad_request');
        await expectError(
          feed.countPerPartition('x' as unknown as string[], { max: 3 }),
          'bad_request',
        );
      });

      it('treats filter values as data, not query text', async () => {
        const r = uid('r');
        await feed.upsert(feedItem(r, 1, { authorId: 'o\'brien" OR 1=1 --' }));
        await feed.upsert(feedItem(r, 2));
        const page = await feed.query({
          partitionKey: r,
          filters: [{ field: 'authorId', op: '=', value: 'o\'brien" OR 1=1 --' }],
          limit: 10,
        });
        expect(page.items.map((d) => d.postId)).toEqual(['p1']);
      });

      it('rejects malformed queries with bad_request', async () => {
        await expectError(feed.query({ partitionKey: 'x', limit: 0 }), 'bad_request');
        await expectError(
          feed.query({
            partitionKey: 'x',
            limit: 10,
            filters: [{ field: 'a; DROP', op: '=', value: 1 }],
          }),
          'bad_request',
        );
        await expectError(
          feed.query({
            partitionKey: 'x',
            limit: 10,
            orderBy: [{ field: 'createdAt', direction: 'UP' as 'ASC' }],
          }),
          'bad_request',
        );
      });
    });

    describe('bulk', () => {
      it('runs many writes and reports a status per operation', async () => {
        const r = uid('r');
        await feed.upsert(feedItem(r, 1));
        const res = await feed.bulk([
          { op: 'upsert', doc: feedItem(r, 1, { text: 'replaced' }) },
          { op: 'upsert', doc: feedItem(r, 2) },
          { op: 'delete', id: `${r}:p1`, partitionKey: r },
          { op: 'delete', id: `${r}:p404`, partitionKey: r },
        ]);
        expect(res.statuses).toEqual([200, 201, 204, 404]);
        expect(res.requestCharge).toBeGreaterThan(0);
        expect((await feed.read(`${r}:p1`, r)).resource).toBeUndefined();
        expect((await feed.read(`${r}:p2`, r)).resource).toBeDefined();
      });

      it('keeps the given order for one item written twice, and across upserts and deletes', async () => {
        const r = uid('r');
        const res = await feed.bulk([
          { op: 'upsert', doc: feedItem(r, 1, { text: 'first' }) },
          { op: 'upsert', doc: feedItem(r, 1, { text: 'second' }) },
          { op: 'delete', id: `${r}:p1`, partitionKey: r },
          { op: 'upsert', doc: feedItem(r, 1, { text: 'third' }) },
        ]);
        expect(res.statuses).toEqual([201, 200, 204, 201]);
        expect((await feed.read<Doc>(`${r}:p1`, r)).resource?.text).toBe('third');
      });

      it('ifNewer: replaces only older versions (412 otherwise) and creates missing items', async () => {
        const r = uid('r');
        await feed.upsert(feedItem(r, 1, { sourceVersion: 5, text: 'v5' }));
        await feed.upsert(feedItem(r, 2, { sourceVersion: 5, text: 'v5' }));
        const res = await feed.bulk(
          [
            { op: 'upsert', doc: feedItem(r, 1, { sourceVersion: 4, text: 'v4' }) },
            { op: 'upsert', doc: feedItem(r, 2, { sourceVersion: 6, text: 'v6' }) },
            { op: 'upsert', doc: feedItem(r, 3, { sourceVersion: 1, text: 'v1' }) },
          ],
          { ifNewer: 'sourceVersion' },
        );
        expect(res.statuses).toEqual([412, 200, 201]);
        // A redelivery of what is stored: every op skipped, and each says so.
        const again = await feed.bulk(
          [
            { op: 'upsert', doc: feedItem(r, 1, { sourceVersion: 5, text: 'v5 again' }) },
            { op: 'upsert', doc: feedItem(r, 2, { sourceVersion: 6, text: 'v6 again' }) },
          ],
          { ifNewer: 'sourceVersion' },
        );
        expect(again.statuses).toEqual([412, 412]);
        expect((await feed.read<Doc>(`${r}:p1`, r)).resource?.text).toBe('v5');
        expect((await feed.read<Doc>(`${r}:p2`, r)).resource?.text).toBe('v6');
        expect((await feed.read<Doc>(`${r}:p3`, r)).resource?.text).toBe('v1');
        await expectError(
          feed.bulk([{ op: 'upsert', doc: feedItem(r, 4) }], { ifNewer: 'a; DROP' }),
          'bad_request',
        );
      });

      it('writes nothing when any operation is invalid', async () => {
        const r = uid('r');
        await expectError(
          feed.bulk([
            { op: 'upsert', doc: feedItem(r, 1) },
            { op: 'upsert', doc: { id: 'no-partition-key' } },
          ]),
          'bad_request',
        );
        expect((await feed.read(`${r}:p1`, r)).resource).toBeUndefined();
      });
    });

    describe('upsertCopies', () => {
      it('writes one document under each target key, as bulk upserts would, with a status per copy', async () => {
        const [a, b, c] = [uid('r'), uid('r'), uid('r')];
        await feed.upsert(feedItem(b, 7, { text: 'old' }));
        const template = feedItem(a, 7, { text: 'shared', tags: ['x'] });
        const other = feedItem(a, 8, { text: 'second set' });
        const res = await feed.upsertCopies([
          {
            doc: template,
            targets: [a, b, c].map((r) => ({ id: `${r}:p7`, partitionKey: r })),
          },
          { doc: other, targets: [{ id: `${c}:p8`, partitionKey: c }] },
        ]);
        expect(res.statuses).toEqual([201, 200, 201, 201]);
        expect(res.requestCharge).toBeGreaterThan(0);
        for (const r of [a, b, c]) {
          const got = (await feed.read<Doc>(`${r}:p7`, r)).resource;
          expect(got).toMatchObject({ ...template, id: `${r}:p7`, recipientId: r });
        }
        expect((await feed.read<Doc>(`${c}:p8`, c)).resource).toMatchObject({
          text: 'second set',
          recipientId: c,
        });
        // Each copy is an item like any other: in its partition's change feed and queries.
        const page = await feed.query({ partitionKey: b, limit: 10 });
        expect(page.items.map((d) => d.id)).toEqual([`${b}:p7`]);
      });

      it('ifNewer guards each copy on its own stored version', async () => {
        const [a, b] = [uid('r'), uid('r')];
        await feed.upsert(feedItem(b, 1, { sourceVersion: 9, text: 'newer' }));
        const res = await feed.upsertCopies(
          [
            {
              doc: feedItem(a, 1, { sourceVersion: 3, text: 'v3' }),
              targets: [a, b].map((r) => ({ id: `${r}:p1`, partitionKey: r })),
            },
          ],
          { ifNewer: 'sourceVersion' },
        );
        expect(res.statuses).toEqual([201, 412]);
        expect((await feed.read<Doc>(`${b}:p1`, b)).resource?.text).toBe('newer');
        expect((await feed.read<Doc>(`${a}:p1`, a)).resource?.text).toBe('v3');
        // Replaced, skipped and created in one call, each reported in target order.
        const c = uid('r');
        const mixed = await feed.upsertCopies(
          [
            {
              doc: feedItem(a, 1, { sourceVersion: 5, text: 'v5' }),
              targets: [a, b, c].map((r) => ({ id: `${r}:p1`, partitionKey: r })),
            },
          ],
          { ifNewer: 'sourceVersion' },
        );
        expect(mixed.statuses).toEqual([200, 412, 201]);
        expect((await feed.read<Doc>(`${a}:p1`, a)).resource?.text).toBe('v5');
      });

      it('a target listed twice is written in the given order', async () => {
        const r = uid('r');
        const res = await feed.upsertCopies([
          { doc: feedItem(r, 1, { text: 'first' }), targets: [{ id: `${r}:p1`, partitionKey: r }] },
          {
            doc: feedItem(r, 1, { text: 'second' }),
            targets: [{ id: `${r}:p1`, partitionKey: r }],
          },
        ]);
        expect(res.statuses).toEqual([201, 200]);
        expect((await feed.read<Doc>(`${r}:p1`, r)).resource?.text).toBe('second');
      });

      it('bad input writes nothing: a bad target key, a bad document, a bad guard', async () => {
        const r = uid('r');
        const good = { id: `${r}:p1`, partitionKey: r };
        for (const sets of [
          [{ doc: feedItem(r, 1), targets: [good, { id: 'a/b', partitionKey: r }] }],
          [{ doc: feedItem(r, 1), targets: [good, { id: `${r}:p2`, partitionKey: '' }] }],
          [
            { doc: feedItem(r, 1), targets: [good] },
            { doc: { id: 'x' }, targets: [good] },
          ],
          [{ doc: feedItem(r, 1), targets: 'nope' }],
          'nope',
        ]) {
          await expectError(feed.upsertCopies(sets as never), 'bad_request');
        }
        await expectError(
          feed.upsertCopies([{ doc: feedItem(r, 1), targets: [good] }], { ifNewer: 'a; DROP' }),
          'bad_request',
        );
        expect((await feed.read(`${r}:p1`, r)).resource).toBeUndefined();
        expect((await feed.upsertCopies([])).statuses).toEqual([]);
        // Where the partition key is the id, a copy's two must agree.
        const l = uid('l');
        await expectError(
          h.store
            .container('leases')
            .upsertCopies([{ doc: { id: l }, targets: [{ id: l, partitionKey: `${l}x` }] }]),
          'bad_request',
        );
      });
    });

    describe('bad input', () => {
      it('an item without id or partition key, or with a bad ttl, is refused and nothing is written', async () => {
        const r = uid('r');
        await expectError(feed.upsert({ recipientId: r } as unknown as Doc), 'bad_request');
        await expectError(feed.upsert({ id: `${r}:x`, postId: 'p' }), 'bad_request');
        await expectError(feed.upsert({ id: `${r}:x`, recipientId: 42 }), 'bad_request');
        await expectError(feed.create({ id: '', recipientId: r }), 'bad_request');
        await expectError(feed.upsert({ id: 'a/b', recipientId: r }), 'bad_request');
        await expectError(
          h.store.container('leases').upsert({ id: uid('l'), ttl: 0 }),
          'bad_request',
        );
        const page = await feed.query({ partitionKey: r, limit: 10 });
        expect(page.items).toEqual([]);
        expect(() => feed.partitionKeyOf({ id: 'x' })).toThrow(/partition key/);
      });

      it('an unknown container is a typed error', () => {
        let err: unknown;
        try {
          h.store.container('nope');
        } catch (e) {
          err = e;
        }
        expect(isProjectionError(err, 'unknown_container')).toBe(true);
      });

      it('a continuation token that is not one is refused', async () => {
        const err = await feed
          .query({ partitionKey: uid('r'), limit: 5, continuation: 'not-a-token' })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(isProjectionError(err), String(err)).toBe(true);
      });

      it('a read with an empty id or partition key is refused', async () => {
        await expectError(feed.read('', 'x'), 'bad_request');
        await expectError(feed.read('x', ''), 'bad_request');
        await expectError(feed.delete('', 'x'), 'bad_request');
      });
    });

    describe.skipIf(opts.skipChangeFeed !== undefined)(
      `change feed${opts.skipChangeFeed ? ` (skipped: ${opts.skipChangeFeed})` : ''}`,
      () => {
        it('shows every write exactly once across the feed ranges, in commit order per partition key', async () => {
          const start = await drainChanges(h.store.container('reactions'));
          const keys = Array.from({ length: 6 }, () => uid('post'));
          const written: string[] = [];
          for (let i = 0; i < 30; i++) {
            const k = keys[i % keys.length] as string;
            const id = `${k}-${i}`;
            await h.store
              .container('reactions')
              .upsert({ id, postId: k, seq: i, type: 'like', createdAt: `${i}` });
            written.push(id);
          }
          const { items } = await drainSettled(
            h.store.container('reactions'),
            start.continuations,
            (got) => written.every((id) => got.some((x) => x.doc.id === id)),
          );
          const mine = items.filter((x) => keys.includes(x.doc.postId as string));
          expect(mine.map((x) => x.doc.id).sort()).toEqual([...written].sort());
          // One range per partition key, and increasing seq within each key.
          for (const k of keys) {
            const ofKey = mine.filter((x) => x.doc.postId === k);
            expect(new Set(ofKey.map((x) => x.range)).size).toBe(1);
            const seqs = ofKey.map((x) => x.doc.seq as number);
            expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
          }
        });

        it('an update moves the item to the latest position (latest version, no duplicates, no deletes)', async () => {
          const k = uid('post');
          const base = await drainChanges(posts);
          for (const n of [1, 2, 3])
            await posts.upsert({
              id: `${k}`,
              postId: k,
              v: n,
              createdAt: 'x',
              authorId: 'a',
              status: 'published',
            });
          await posts.upsert({
            id: `${k}-b`,
            postId: k,
            v: 0,
            createdAt: 'x',
            authorId: 'a',
            status: 'published',
          });
          await posts.upsert({
            id: `${k}-gone`,
            postId: k,
            v: 0,
            createdAt: 'x',
            authorId: 'a',
            status: 'published',
          });
          await posts.patch(k, k, [{ op: 'set', path: '/v', value: 4 }]);
          await posts.delete(`${k}-gone`, k);
          await posts.upsert({
            id: `${k}-last`,
            postId: k,
            v: 9,
            createdAt: 'x',
            authorId: 'a',
            status: 'published',
          });
          const settled = await drainSettled(posts, base.continuations, (got) =>
            got.some((x) => x.doc.id === `${k}-last`),
          );
          const items = settled.items.filter((x) => x.doc.id !== `${k}-last`);
          const mine = items.filter((x) => x.doc.postId === k);
          expect(mine.map((x) => [x.doc.id, x.doc.v])).toEqual([
            [`${k}-b`, 0],
            [k, 4],
          ]);
        });

        it('resuming from a saved continuation returns only newer changes', async () => {
          const k = uid('post');
          const c = h.store.container('reactions');
          await c.upsert({ id: 'a', postId: k, type: 'like', createdAt: '1' });
          const first = await drainSettled(c, new Map(), (got) =>
            got.some((x) => x.doc.postId === k),
          );
          expect(first.items.some((x) => x.doc.postId === k && x.doc.id === 'a')).toBe(true);
          const none = await drainChanges(c, first.continuations);
          expect(none.items.filter((x) => x.doc.postId === k)).toEqual([]);
          await c.upsert({ id: 'b', postId: k, type: 'like', createdAt: '2' });
          const next = await drainSettled(c, first.continuations, (got) =>
            got.some((x) => x.doc.postId === k),
          );
          expect(next.items.filter((x) => x.doc.postId === k).map((x) => x.doc.id)).toEqual(['b']);
        });

        it('a continuation from another range or garbage is refused', async () => {
          const ranges = await feed.feedRanges();
          expect(ranges.length).toBeGreaterThan(0);
          const err = await feed.readChanges(ranges[0] as FeedRange, 'garbage').then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(isProjectionError(err), String(err)).toBe(true);
          await expectError(
            feed.readChanges({ id: 'no-such-range' } as FeedRange, null),
            'bad_request',
          );
        });
      },
    );

    describe.skipIf(opts.skipTtl !== undefined)(
      `TTL${opts.skipTtl ? ` (skipped: ${opts.skipTtl})` : ''}`,
      () => {
        const ttlDefs: ContainerDef[] = [
          {
            name: 'ttlDefault',
            partitionKey: '/k',
            defaultTtl: 2,
            indexingPolicy: {
              indexingMode: 'consistent',
              includedPaths: [{ path: '/*' }],
              excludedPaths: [],
            },
          },
          {
            name: 'ttlOptIn',
            partitionKey: '/k',
            defaultTtl: -1,
            indexingPolicy: {
              indexingMode: 'consistent',
              includedPaths: [{ path: '/*' }],
              excludedPaths: [],
            },
          },
          {
            name: 'ttlOff',
            partitionKey: '/k',
            indexingPolicy: {
              indexingMode: 'consistent',
              includedPaths: [{ path: '/*' }],
              excludedPaths: [],
            },
          },
        ];
        it('container default expires items; own ttl overrides; -1 never expires; an update resets the clock', async () => {
          const t = await factory({ definitions: ttlDefs });
          try {
            const k = uid('k');
            const def = t.store.container('ttlDefault');
            const optIn = t.store.container('ttlOptIn');
            const off = t.store.container('ttlOff');
            await def.upsert({ id: 'default', k });
            await def.upsert({ id: 'own-long', k, ttl: 60 });
            await def.upsert({ id: 'never', k, ttl: -1 });
            await def.upsert({ id: 'touched', k });
            await optIn.upsert({ id: 'own', k, ttl: 1 });
            await optIn.upsert({ id: 'none', k });
            // Copies carry the shared document's ttl, each on its own clock.
            await optIn.upsertCopies([
              {
                doc: { id: 'copy-1', k, ttl: 1 },
                targets: ['copy-1', 'copy-2'].map((id) => ({ id, partitionKey: k })),
              },
            ]);
            await off.upsert({ id: 'ignored', k, ttl: 1 });
            await sleep(1300);
            await def.upsert({ id: 'touched', k, v: 2 }); // resets its 2 s clock
            await sleep(1200);
            const live = async (c: ProjectionContainer, id: string) =>
              (await c.read(id, k)).resource !== undefined;
            expect(await live(def, 'default')).toBe(false);
            expect(await live(def, 'own-long')).toBe(true);
            expect(await live(def, 'never')).toBe(true);
            expect(await live(def, 'touched')).toBe(true);
            expect(await live(optIn, 'own')).toBe(false);
            expect(await live(optIn, 'none')).toBe(true);
            expect(await live(optIn, 'copy-1')).toBe(false);
            expect(await live(optIn, 'copy-2')).toBe(false);
            expect(await live(off, 'ignored')).toBe(true);
            // Expired items are gone from queries and readMany too, and may be created again.
            const q = await def.query({ partitionKey: k, limit: 10 });
            expect(q.items.map((d) => d.id).sort()).toEqual(['never', 'own-long', 'touched']);
            expect((await def.readMany([{ id: 'default', partitionKey: k }])).items).toEqual([]);
            await def.create({ id: 'default', k, again: true });
            expect(await live(def, 'default')).toBe(true);
          } finally {
            await t.close();
          }
        });
      },
    );
  });
}
