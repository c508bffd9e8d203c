import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosmosError } from '../../src/projections/cosmos/errors.ts';
import {
  type CosmosProjectionStore,
  createCosmosStore,
} from '../../src/projections/cosmos/store.ts';
import { type FeedRange, isProjectionError } from '../../src/projections/port.ts';
import { inSession, ReadSession, sessionScoped } from '../../src/projections/session.ts';
import { containerDefs } from '../../src/readmodel/containers.ts';
import { emulatorEndpoint } from '../support/projections.ts';
import { type Recorded, type RecordingProxy, recordingProxy } from '../support/recorded-cosmos.ts';

const errorBody = (code: string, message: string) => ({ code, message });
const path = (req: IncomingMessage) => (req.url ?? '').split('?')[0] ?? '';

/** The real SDK through recorded responses where the stand-in server cannot produce them. */
describe('Cosmos adapter through recorded responses (429, 449, 404/1002, 410/1002)', () => {
  let proxy: RecordingProxy;
  let store: CosmosProjectionStore;
  let database: string;

  beforeAll(async () => {
    proxy = await recordingProxy(await emulatorEndpoint());
    database = `asora_r_${randomBytes(4).toString('hex')}`;
    store = await createCosmosStore({
      endpoint: proxy.endpoint,
      key: 'emulator-accepts-any-key',
      database,
      endpointDiscovery: false,
      timeoutMs: 3_000,
      definitions: containerDefs,
    });
    await store.provision();
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await proxy?.close();
  });

  /** Answers the first `times` requests the predicate matches with `r`, then lets them through. */
  function times(n: number, match: (req: IncomingMessage) => boolean, r: () => Recorded) {
    let left = n;
    proxy.rules.push((req) => {
      if (left <= 0 || !match(req)) return undefined;
      left--;
      return r();
    });
  }

  it('429 with x-ms-retry-after-ms: the SDK waits and retries; a lasting 429 is throttled within the deadline', async () => {
    const c = store.container('posts_v2');
    await c.upsert({ id: 'p429', postId: 'p429' });
    const item = `/dbs/${database}/colls/posts_v2/docs/p429`;
    times(
      2,
      (req) => req.method === 'GET' && path(req) === item,
      () => ({
        status: 429,
        headers: { 'x-ms-retry-after-ms': '30', 'x-ms-substatus': '3200' },
        body: errorBody('TooManyRequests', 'Request rate is large'),
      }),
    );
    const before = proxy.seen.filter((s) => s.path.startsWith(item)).length;
    expect((await c.read('p429', 'p429')).resource?.id).toBe('p429');
    expect(proxy.seen.filter((s) => s.path.startsWith(item)).length - before).toBe(3);

    times(
      1_000,
      (req) => req.method === 'GET' && path(req) === item,
      () => ({
        status: 429,
        headers: { 'x-ms-retry-after-ms': '200' },
        body: errorBody('TooManyRequests', 'Request rate is large'),
      }),
    );
    const t0 = Date.now();
    const err = await c.read('p429', 'p429').catch((e: unknown) => e);
    expect(isProjectionError(err, 'throttled'), String(err)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(3_500);
    proxy.rules.length = 0;
  });

  it('449 (retry with) is retried by the adapter and the write lands once', async () => {
    const c = store.container('posts_v2');
    const docs = `/dbs/${database}/colls/posts_v2/docs`;
    times(
      2,
      (req) => req.method === 'POST' && path(req) === docs,
      () => ({
        status: 449,
        body: errorBody(
          'RetryWith',
          'Conflicting request to resource has been attempted. Retry to avoid conflicts.',
        ),
      }),
    );
    const w = await c.upsert({ id: 'p449', postId: 'p449', n: 1 });
    expect(w.resource.n).toBe(1);
    expect((await c.read('p449', 'p449')).resource?.n).toBe(1);
    proxy.rules.length = 0;
  });

  it('404/1002 (read session not available) is retried, and when it lasts it is unavailable, not a missing item', async () => {
    const c = store.container('posts_v2');
    await c.upsert({ id: 'p1002', postId: 'p1002' });
    const item = `/dbs/${database}/colls/posts_v2/docs/p1002`;
    const notYet = () => ({
      status: 404,
      headers: { 'x-ms-substatus': '1002' },
      body: errorBody('NotFound', 'The read session is not available for the input session token.'),
    });
    times(2, (req) => req.method === 'GET' && path(req) === item, notYet);
    expect((await c.read('p1002', 'p1002')).resource?.id).toBe('p1002');
    times(100, (req) => req.method === 'GET' && path(req) === item, notYet);
    const before = proxy.seen.filter((s) => s.path.startsWith(item)).length;
    const err = await c.read('p1002', 'p1002').catch((e: unknown) => e);
    expect(isProjectionError(err, 'unavailable'), String(err)).toBe(true);
    expect(proxy.seen.filter((s) => s.path.startsWith(item)).length - before).toBeLessThanOrEqual(
      8,
    );
    proxy.rules.length = 0;
  });

  it('partition-scoped queries go to one partition (partition-key header, no fan-out) and fetch no query plan', async () => {
    const feed = store.container('userFeed');
    for (let n = 0; n < 5; n++)
      await feed.upsert({
        id: `u1:p${n}`,
        recipientId: 'u1',
        postId: `p${n}`,
        createdAt: `2024-01-0${n + 1}`,
      });
    const from = proxy.seen.length;
    let continuation: string | null = null;
    const got: string[] = [];
    do {
      const page: Awaited<ReturnType<typeof feed.query>> = await feed.query({
        partitionKey: 'u1',
        orderBy: [{ field: 'createdAt', direction: 'DESC' }],
        limit: 2,
        continuation,
      });
      got.push(...page.items.map((i) => i.postId as string));
      continuation = page.continuation;
    } while (continuation);
    expect(got).toEqual(['p4', 'p3', 'p2', 'p1', 'p0']);
    const sent = proxy.seen.slice(from);
    const queries = sent.filter(
      (r) =>
        r.method === 'POST' &&
        String(r.headers['x-ms-documentdb-isquery']).toLowerCase() === 'true' &&
        !r.headers['x-ms-cosmos-is-query-plan-request'],
    );
    // Three pages, three query requests, and not one query-plan request (a metadata call).
    expect(queries.length).toBe(3);
    expect(sent.filter((r) => r.headers['x-ms-cosmos-is-query-plan-request'])).toEqual([]);
    expect(sent.length).toBe(3);
    for (const q of queries) {
      expect(q.headers['x-ms-documentdb-partitionkey']).toBe('["u1"]');
      expect(q.headers['x-ms-documentdb-partitionkeyrangeid']).toBeUndefined();
    }
  });

  it('a cross-partition query still fetches its plan; a server asking for a plan on a partition-scoped query gets one', async () => {
    const posts = store.container('posts_v2');
    for (let n = 0; n < 3; n++)
      await posts.upsert({
        id: `qp${n}`,
        postId: `qp${n}`,
        authorId: 'qa',
        createdAt: `2024-02-0${n + 1}`,
      });
    const plans = () =>
      proxy.seen.filter((r) => r.headers['x-ms-cosmos-is-query-plan-request']).length;
    const before = plans();
    const across = await posts.query({
      filters: [{ field: 'authorId', op: '=', value: 'qa' }],
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: 10,
    });
    expect(across.items.map((i) => i.id)).toEqual(['qp2', 'qp1', 'qp0']);
    expect(plans() - before).toBeGreaterThan(0);

    // The gateway refuses the direct query as needing a plan once: the adapter runs it with one.
    times(
      1,
      (req) =>
        req.method === 'POST' &&
        !req.headers['x-ms-cosmos-is-query-plan-request'] &&
        req.headers['x-ms-documentdb-partitionkey'] === '["qp1"]',
      () => ({
        status: 400,
        body: {
          code: 'BadRequest',
          message: 'Cross partition query only supports VALUE <AggregateFunc> for aggregates.',
          additionalErrorInfo: '{}',
        },
      }),
    );
    const mid = plans();
    const one = await posts.query({ partitionKey: 'qp1', limit: 5 });
    expect(one.items.map((i) => i.id)).toEqual(['qp1']);
    expect(plans() - mid).toBe(1);
    proxy.rules.length = 0;
  });

  it('session consistency across instances: the token of a write on one instance is sent on the next reads by another', async () => {
    // A second "API instance": its own client, so its SDK holds none of the first one's tokens.
    const other = await createCosmosStore({
      endpoint: proxy.endpoint,
      key: 'emulator-accepts-any-key',
      database,
      endpointDiscovery: false,
      timeoutMs: 3_000,
      definitions: containerDefs,
    });
    try {
      const docs = `/dbs/${database}/colls/notifications/docs`;
      let lsn = 40;
      // Cosmos answers every write with the partition's session token; the stand-in does not.
      proxy.extraHeaders.push((req) =>
        req.method !== 'GET' && path(req).startsWith(docs)
          ? { 'x-ms-session-token': `0:-1#${++lsn}` }
          : undefined,
      );
      const session = new ReadSession();
      await inSession(session, async () => {
        const a = sessionScoped(store).container('notifications');
        await a.upsert({ id: 'n1', recipientId: 'u9', read: false, createdAt: '2024-03-01' });
        await a.patch('n1', 'u9', [{ op: 'set', path: '/read', value: true }]);
      });
      expect(session.changed).toBe(true);
      expect(session.tokenFor('notifications')).toBe('0:-1#42');
      // What an API response header carries, and the next request (to any instance) returns.
      const carried = new ReadSession(JSON.parse(JSON.stringify(session)));

      const from = proxy.seen.length;
      const b = sessionScoped(other).container('notifications');
      await inSession(carried, async () => {
        expect((await b.read('n1', 'u9')).resource?.read).toBe(true);
        const page = await b.query({
          partitionKey: 'u9',
          orderBy: [{ field: 'createdAt', direction: 'DESC' }],
          limit: 5,
        });
        expect(page.items.map((i) => i.id)).toEqual(['n1']);
      });
      // Without the session (another user's request), instance B sends no such token.
      await b.read('n1', 'u9');
      const reads = proxy.seen.slice(from).filter((r) => r.path.startsWith(docs));
      expect(reads.map((r) => r.headers['x-ms-session-token'])).toEqual([
        '0:-1#42',
        '0:-1#42',
        undefined,
      ]);
      // Tokens of one range merge to the newest; other ranges are kept.
      carried.note('notifications', '0:-1#41,1:-1#7');
      expect(carried.tokenFor('notifications')).toBe('0:-1#42,1:-1#7');
    } finally {
      proxy.extraHeaders.length = 0;
      await other.close();
    }
  });

  it('errors without a status: network failures are unavailable, anything else internal (not retried forever)', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    });
    expect(cosmosError(refused, 'x').code).toBe('unavailable');
    expect(cosmosError(new TypeError('cannot read properties of undefined'), 'x').code).toBe(
      'internal',
    );
    expect(
      cosmosError(Object.assign(new Error('gone'), { code: 410, substatus: 1002 }), 'x').code,
    ).toBe('unavailable');
    expect(cosmosError(Object.assign(new Error('nf'), { code: 404 }), 'x').code).toBe('not_found');
  });

  it('410/1002 on a change-feed read: the SDK continues the parent position in each child; the adapter reports gone and narrows the token per child', async () => {
    const coll = `/dbs/${database}/colls/posts_v2`;
    const client = new CosmosClient({
      endpoint: proxy.endpoint,
      key: 'k',
      connectionPolicy: { enableEndpointDiscovery: false },
    });
    const { resource } = await client.database(database).container('posts_v2').read();
    client.dispose();
    const rid = resource?._rid as string;
    let split = false;
    const range = (id: string, min: string, max: string, parents: string[] = []) => ({
      id,
      minInclusive: min,
      maxExclusive: max,
      parents,
      status: 'online',
      ridPrefix: Number(id),
      throughputFraction: 1,
      _rid: `${rid}${id}`,
      _self: `${coll}/pkranges/${id}`,
      _etag: `"${id}"`,
      _ts: 1,
    });
    proxy.rules.push((req) => {
      if (req.method !== 'GET' || path(req) !== `${coll}/pkranges`) return undefined;
      const ranges = split
        ? [range('1', '', '80', ['0']), range('2', '80', 'FF', ['0'])]
        : [range('0', '', 'FF')];
      return {
        status: 200,
        headers: { etag: split ? '"2"' : '"1"' },
        body: { _rid: rid, PartitionKeyRanges: ranges, _count: ranges.length },
      };
    });
    const doc = (id: string, lsn: number) => ({
      id,
      postId: id,
      _rid: `${rid}${lsn}`,
      _etag: `"e${lsn}"`,
      _ts: 1_800_000_000,
      _lsn: lsn,
    });
    const feedReads: { pkr: string; ifNoneMatch: string | undefined }[] = [];
    proxy.rules.push((req) => {
      if (req.method !== 'GET' || path(req) !== `${coll}/docs` || !req.headers['a-im'])
        return undefined;
      const pkr = String(req.headers['x-ms-documentdb-partitionkeyrangeid'] ?? '');
      const inm = req.headers['if-none-match'] as string | undefined;
      feedReads.push({ pkr, ifNoneMatch: inm });
      const page = (docs: unknown[], lsn: number) => ({
        status: docs.length ? 200 : 304,
        headers: { etag: `"${lsn}"`, lsn: String(lsn), 'x-ms-session-token': `${pkr}:-1#${lsn}` },
        body: docs.length ? { _rid: rid, Documents: docs, _count: docs.length } : undefined,
      });
      if (pkr === '0') {
        if (!inm) return page([doc('a', 9), doc('b', 10)], 10);
        split = true; // the partition splits: its range is gone
        return {
          status: 410,
          headers: { 'x-ms-substatus': '1002' },
          body: errorBody('Gone', 'The requested partition key range is gone'),
        };
      }
      if (pkr === '1') return inm === '"10"' ? page([doc('c', 12)], 12) : page([], 12);
      if (pkr === '2') return inm === '"10"' ? page([doc('d', 11)], 11) : page([], 11);
      return undefined;
    });

    const c = store.container('posts_v2');
    const [whole] = (await c.feedRanges()) as FeedRange[];
    expect(whole).toMatchObject({ min: '', max: 'FF' });
    const first = await c.readChanges(whole as FeedRange, null, 10);
    expect(first.items.map((i) => i.id)).toEqual(['a', 'b']);
    // Next read: 410/1002 → the SDK reads the children from the parent's position.
    const second = await c.readChanges(whole as FeedRange, first.continuation, 10);
    expect(['c', 'd']).toContain(second.items[0]?.id);
    // Charged for every response of the call: the 410, the range refresh, the child read(s).
    expect(second.requestCharge).toBeGreaterThanOrEqual(3);
    expect(feedReads.filter((r) => r.pkr !== '0').every((r) => r.ifNoneMatch === '"10"')).toBe(
      true,
    );
    // The token now spans two physical ranges: the lease must hand over to its children.
    const gone = await c
      .readChanges(whole as FeedRange, second.continuation, 10)
      .catch((e: unknown) => e);
    expect(isProjectionError(gone, 'gone'), String(gone)).toBe(true);
    const children = (await c.feedRanges()).map((r) => r.id);
    expect(children).toEqual(['00-80', '80-FF']);
    const seen = new Set(['a', 'b', ...second.items.map((i) => i.id)]);
    for (const child of await c.feedRanges()) {
      const page = await c.readChanges(child, second.continuation, 10);
      for (const i of page.items) {
        expect(seen.has(i.id), `${i.id} delivered twice`).toBe(false);
        seen.add(i.id);
      }
      // One item read per lease is enough for the estimate: the LSN gap from the session token.
      expect(await c.changeLag(child, page.continuation, { max: 100 })).toBe(0);
    }
    expect([...seen].sort()).toEqual(['a', 'b', 'c', 'd']);
    proxy.rules.length = 0;
  });
});
