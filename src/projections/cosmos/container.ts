import { createHash } from 'node:crypto';
import {
  ChangeFeedMode,
  type ChangeFeedPullModelIterator,
  ChangeFeedStartFrom,
  type Container,
  type FeedRange as CosmosFeedRange,
  type CosmosHeaders,
  type FeedOptions,
  type ItemDefinition,
  type JSONObject,
  type OperationInput,
  type PatchOperation,
  type QueryIterator,
  type RequestOptions,
} from '@azure/cosmos';
import { forEachLimited } from '../../lib/concurrency.ts';
import { TimeoutError, withTimeout } from '../../observability/timeout.ts';
import { checkCopySets, expandCopies } from '../copies.ts';
import { isFeedRange } from '../feed-range.ts';
import { observed } from '../observed.ts';
import {
  type BulkOp,
  type BulkOptions,
  type BulkResult,
  type ChangePage,
  type Charged,
  type ContainerDef,
  type CopySet,
  type Doc,
  type FeedRange,
  type LagOptions,
  type PartitionCounts,
  type PatchOp,
  type ProjectionContainer,
  ProjectionError,
  type Query,
  type QueryPage,
  type ReadChangesOptions,
  type ReadOptions,
  type ReadResult,
  type Sessioned,
  type Stored,
  type StoreObserver,
  type WriteOptions,
  type WriteResult,
} from '../port.ts';
import {
  checkCountRequest,
  checkField,
  checkId,
  checkPartitionKey,
  checkPatch,
  checkQuery,
  partitionKeyOf,
  prepareDoc,
  serializeDoc,
} from '../validate.ts';
import { summingCharges } from './charges.ts';
import {
  chargeOf,
  cosmosError,
  isMissing,
  isRetriable,
  READ_SESSION_NOT_AVAILABLE,
  statusOf,
} from './errors.ts';
import { narrowFeedToken } from './feed-token.ts';
import { buildSql, countSql, keysetOrder } from './query.ts';
import { isPlanNeeded, withoutQueryPlan } from './query-plan.ts';

/** Server-set properties we do not hand out (the port exposes _etag and _ts only). */
const strip = <T extends Doc>(r: ItemDefinition | undefined): Stored<T> | undefined => {
  if (!r) return undefined;
  const { _rid, _self, _attachments, _lsn, ...rest } = r as Record<string, unknown>;
  return rest as Stored<T>;
};

const ifMatch = (etag: string | undefined): RequestOptions | undefined =>
  etag === undefined ? undefined : { accessCondition: { type: 'IfMatch', condition: etag } };

/** The session token a write answered with (x-ms-session-token), for the caller's later reads. */
function sessionOf(headers: CosmosHeaders | undefined): { sessionToken?: string } {
  const raw = headers?.['x-ms-session-token'];
  const token = Array.isArray(raw) ? raw[0] : raw;
  return typeof token === 'string' && token !== '' ? { sessionToken: token } : {};
}

function checkSession(token: unknown): void {
  if (token !== undefined && (typeof token !== 'string' || token === ''))
    throw new ProjectionError('bad_request', 'sessionToken must be a non-empty string');
}

function checkEtag(etag: string | undefined): void {
  if (etag !== undefined && (typeof etag !== 'string' || etag === '')) {
    throw new ProjectionError('bad_request', 'ifMatch must be a non-empty etag string');
  }
}

/**
 * Query continuations are the SDK's token wrapped with a hash of the query, so a token
 * is refused (bad_request) when used with another query instead of silently misbehaving.
 */
const shapeOf = (
  def: ContainerDef,
  spec: { query: string; parameters?: unknown },
  pk: string | undefined,
): string =>
  createHash('sha1')
    .update(JSON.stringify([def.name, pk ?? null, spec.query, spec.parameters ?? []]))
    .digest('base64url')
    .slice(0, 12);

const wrapToken = (token: string, shape: string): string =>
  Buffer.from(JSON.stringify({ h: shape, t: token })).toString('base64url');

function unwrapToken(token: string, shape: string): string {
  let t: { h?: unknown; t?: unknown } | null = null;
  try {
    t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      h?: unknown;
      t?: unknown;
    };
  } catch (err) {
    throw new ProjectionError('bad_request', 'malformed continuation token', err);
  }
  if (t === null || typeof t !== 'object' || t.h !== shape || typeof t.t !== 'string') {
    throw new ProjectionError('bad_request', 'continuation token does not belong to this query');
  }
  return t.t;
}

type KeyValue = string | number | boolean | null;

/** The value of a (possibly nested) field of a document, as a keyset key. */
function valueAt(doc: Doc, field: string): KeyValue {
  let v: unknown = doc;
  for (const seg of checkField(field)) v = (v as Record<string, unknown> | null)?.[seg];
  return v === undefined ? null : (v as KeyValue);
}

function decodeKeys(raw: string, n: number): KeyValue[] {
  let k: unknown;
  try {
    k = JSON.parse(raw);
  } catch (err) {
    throw new ProjectionError('bad_request', 'malformed continuation token', err);
  }
  if (
    !Array.isArray(k) ||
    k.length !== n ||
    !k.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v))
  )
    throw new ProjectionError('bad_request', 'continuation token does not belong to this query');
  return k as KeyValue[];
}

/** Feed ranges are named by their effective-partition-key bounds (stable, id-safe). */
const rangeId = (r: CosmosFeedRange): string => `${r.minInclusive || '00'}-${r.maxExclusive}`;

/** The partition's latest LSN from a session token: `<pkrange>:<version>#<globalLsn>[#<region>=<lsn>]`. */
function latestLsn(headers: CosmosHeaders | undefined): number | undefined {
  const raw = headers?.['x-ms-session-token'];
  const m = /:[^#]*#(\d+)/.exec(String(Array.isArray(raw) ? raw[0] : (raw ?? '')));
  return m ? Number(m[1]) : undefined;
}

/** Quick retries of 449 / 404-1002 per call. */
const RETRIES = 3;
export const DEFAULT_COSMOS_TIMEOUT_MS = 15_000;

/** How long the physical feed ranges are trusted (a split also refreshes them). */
const FEED_RANGE_TTL_MS = 60_000;

export class CosmosContainer implements ProjectionContainer {
  private rangeCache: { at: number; ranges: FeedRange[] } | undefined;
  private template: CosmosFeedRange | undefined;
  private readonly feeds = new Map<
    string,
    { it: ChangeFeedPullModelIterator<ItemDefinition>; last: string; maxItems: number }
  >();

  constructor(
    readonly def: ContainerDef,
    private readonly container: Container,
    private readonly observer?: StoreObserver,
    /** Deadline of one call, retries included (config COSMOS_TIMEOUT_MS). */
    private readonly timeoutMs = DEFAULT_COSMOS_TIMEOUT_MS,
  ) {}

  /**
   * Every call: typed errors, at most RETRIES quick retries of 449 and 404/1002 (which the
   * SDK leaves to us), and one deadline over the whole call, retries and 429 waits included.
   */
  private run<T extends Charged>(
    operation: string,
    what: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    const call = async (): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn();
        } catch (err) {
          if (!isRetriable(err) || attempt > RETRIES) throw err;
          await new Promise((r) => setTimeout(r, 10 * 2 ** attempt));
        }
      }
    };
    return observed(this.observer, this.def.name, operation, async () => {
      try {
        return await withTimeout(
          summingCharges(call),
          this.timeoutMs,
          `Cosmos DB ${this.def.name} ${operation}`,
        );
      } catch (err) {
        if (err instanceof TimeoutError)
          throw new ProjectionError(
            'unavailable',
            `${this.def.name} ${operation} ${what}: ${err.message}`,
            err,
          );
        throw cosmosError(err, `${this.def.name} ${operation} ${what}`);
      }
    });
  }

  partitionKeyOf(doc: Doc): string {
    return partitionKeyOf(this.def, doc);
  }

  upsert<T extends Doc>(doc: T, opts?: WriteOptions): Promise<WriteResult<T>> {
    return this.run('upsert', String(doc?.id), async () => {
      const { body, pk } = prepareDoc(this.def, doc);
      checkEtag(opts?.ifMatch);
      if (opts?.ifMatch !== undefined) {
        // Conditional write: replace, so a vanished item fails the condition too.
        try {
          const r = await this.container.item(body.id, pk).replace(body, ifMatch(opts.ifMatch));
          return {
            resource: strip<T>(r.resource) as Stored<T>,
            requestCharge: chargeOf(r.headers),
            ...sessionOf(r.headers),
          };
        } catch (err) {
          if (isMissing(err)) {
            throw new ProjectionError(
              'precondition_failed',
              `${this.def.name}/${body.id}: item is gone`,
              err,
            );
          }
          throw err;
        }
      }
      const r = await this.container.items.upsert(body);
      return {
        resource: strip<T>(r.resource) as Stored<T>,
        requestCharge: chargeOf(r.headers),
        ...sessionOf(r.headers),
      };
    });
  }

  create<T extends Doc>(doc: T): Promise<WriteResult<T>> {
    return this.run('create', String(doc?.id), async () => {
      const { body } = prepareDoc(this.def, doc);
      const r = await this.container.items.create(body);
      return {
        resource: strip<T>(r.resource) as Stored<T>,
        requestCharge: chargeOf(r.headers),
        ...sessionOf(r.headers),
      };
    });
  }

  read<T extends Doc>(
    id: string,
    partitionKey: string,
    opts?: ReadOptions,
  ): Promise<ReadResult<T>> {
    return this.run('read', id, async () => {
      checkId(id);
      checkPartitionKey(partitionKey);
      checkSession(opts?.sessionToken);
      try {
        const r = await this.container
          .item(id, partitionKey)
          .read<ItemDefinition>(opts?.sessionToken ? { sessionToken: opts.sessionToken } : {});
        // A point read answers 404 without throwing; 404/1002 is a lagging replica, not a missing item.
        if (r.statusCode === 404 && r.substatus === READ_SESSION_NOT_AVAILABLE) {
          throw Object.assign(new Error('read session not available'), {
            code: 404,
            substatus: READ_SESSION_NOT_AVAILABLE,
          });
        }
        return {
          resource: r.statusCode === 404 ? undefined : strip<T>(r.resource),
          requestCharge: chargeOf(r.headers),
        };
      } catch (err) {
        if (isMissing(err))
          return {
            resource: undefined,
            requestCharge: chargeOf((err as { headers?: never }).headers),
          };
        throw err;
      }
    });
  }

  readMany<T extends Doc>(
    keys: { id: string; partitionKey: string }[],
    opts?: ReadOptions,
  ): Promise<QueryPage<T>> {
    return this.run('readMany', `${keys?.length} keys`, async () => {
      if (!Array.isArray(keys))
        throw new ProjectionError('bad_request', 'readMany needs an array of keys');
      for (const k of keys) {
        checkId(k?.id);
        checkPartitionKey(k?.partitionKey);
      }
      // Point reads (1 RU each) in parallel, a few at a time; order follows the input.
      const out: (Stored<T> | undefined)[] = new Array(keys.length);
      let total = 0;
      await forEachLimited([...keys.keys()], 16, async (i) => {
        const k = keys[i]!;
        const r = await this.read<T>(k.id, k.partitionKey, opts);
        out[i] = r.resource;
        total += r.requestCharge;
      });
      const seen = new Set<string>();
      const items = out.filter((d): d is Stored<T> => {
        if (!d) return false;
        const key = `${this.partitionKeyOf(d)}\u0000${d.id}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      return { items, continuation: null, requestCharge: total };
    });
  }

  delete(
    id: string,
    partitionKey: string,
    opts?: WriteOptions,
  ): Promise<Charged & Sessioned & { deleted: boolean }> {
    return this.run('delete', id, async () => {
      checkId(id);
      checkPartitionKey(partitionKey);
      checkEtag(opts?.ifMatch);
      try {
        const r = await this.container.item(id, partitionKey).delete(ifMatch(opts?.ifMatch));
        return { deleted: true, requestCharge: chargeOf(r.headers), ...sessionOf(r.headers) };
      } catch (err) {
        if (isMissing(err))
          return { deleted: false, requestCharge: chargeOf((err as { headers?: never }).headers) };
        throw err;
      }
    });
  }

  patch<T extends Doc>(
    id: string,
    partitionKey: string,
    ops: PatchOp[],
    opts?: WriteOptions,
  ): Promise<WriteResult<T>> {
    return this.run('patch', id, async () => {
      checkId(id);
      checkPartitionKey(partitionKey);
      checkPatch(this.def, ops);
      checkEtag(opts?.ifMatch);
      const operations = ops.map((o) => ({ ...o }) as PatchOperation);
      const r = await this.container
        .item(id, partitionKey)
        .patch<ItemDefinition>(operations, ifMatch(opts?.ifMatch));
      return {
        resource: strip<T>(r.resource) as Stored<T>,
        requestCharge: chargeOf(r.headers),
        ...sessionOf(r.headers),
      };
    });
  }

  query<T extends Doc>(q: Query): Promise<QueryPage<T>> {
    return this.run('query', '', async () => {
      checkQuery(q);
      checkSession(q.sessionToken);
      const order = keysetOrder(this.def, q);
      const page = (plan: boolean) =>
        order
          ? this.keysetQuery<T>({ ...q, orderBy: order }, plan)
          : this.sdkPagedQuery<T>(q, plan);
      // A partition-scoped query needs no query plan (see query-plan.ts); only if the
      // server asks for one is it run again with the plan.
      if (q.partitionKey === undefined) return page(true);
      return page(false).catch((err: unknown) => {
        if (isPlanNeeded(err)) return page(true);
        throw err;
      });
    });
  }

  countPerPartition(partitionKeys: string[], opts: { max: number }): Promise<PartitionCounts> {
    return this.run('countPerPartition', `${partitionKeys?.length} partitions`, async () => {
      checkCountRequest(partitionKeys, opts);
      // One aggregate per partition (served by the index, a few RU each), a few at a time.
      const counts = new Array<number>(partitionKeys.length).fill(0);
      let total = 0;
      await forEachLimited([...partitionKeys.keys()], 16, async (i) => {
        const partitionKey = partitionKeys[i]!;
        const spec = countSql(this.def, partitionKey);
        const count = (plan: boolean) => this.iterate(spec, { partitionKey }, plan).fetchAll();
        const r = await count(false).catch((err: unknown) => {
          if (isPlanNeeded(err)) return count(true);
          throw err;
        });
        // One value per page; summed in case the answer comes in partial counts.
        const n = r.resources.reduce((sum: number, v) => sum + Number(v ?? 0), 0);
        counts[i] = Math.min(opts.max, n);
        total += r.requestCharge;
      });
      return { counts, requestCharge: total };
    });
  }

  private iterate(
    spec: ReturnType<typeof buildSql>,
    options: FeedOptions,
    plan: boolean,
  ): QueryIterator<ItemDefinition> {
    const it = this.container.items.query<ItemDefinition>(spec, options);
    return plan ? it : withoutQueryPlan(it);
  }

  /**
   * ORDER BY queries a composite index serves page by keyset (the sort values of the last row, id as tie-breaker):
   * the same on every store, and independent of the SDK's continuation, which a
   * cross-partition ORDER BY does not return. One row more than the page tells whether
   * another page exists. Ids are unique per container (all of ours are), so (order, id) is total.
   */
  private async keysetQuery<T extends Doc>(base: Query, plan: boolean): Promise<QueryPage<T>> {
    const q = base;
    const orderBy = base.orderBy ?? [];
    const shape = shapeOf(this.def, buildSql(this.def, base), q.partitionKey);
    const after = q.continuation
      ? decodeKeys(unwrapToken(q.continuation, shape), orderBy.length)
      : undefined;
    const it = this.iterate(
      buildSql(this.def, base, after),
      { partitionKey: q.partitionKey, maxItemCount: q.limit + 1, sessionToken: q.sessionToken },
      plan,
    );
    const rows: Stored<T>[] = [];
    let total = 0;
    while (rows.length <= q.limit && it.hasMoreResults()) {
      const page = await it.fetchNext();
      total += page.requestCharge;
      for (const r of page.resources) rows.push(strip<T>(r) as Stored<T>);
    }
    const items = rows.slice(0, q.limit);
    const last = items[items.length - 1];
    const continuation =
      rows.length > q.limit && last
        ? wrapToken(JSON.stringify(orderBy.map((o) => valueAt(last, o.field))), shape)
        : null;
    return { items, continuation, requestCharge: total };
  }

  /**
   * Other queries keep the SDK's continuation: it returns one without ORDER BY, and within
   * one partition. A cross-partition ORDER BY no index serves has none: one page only.
   */
  private async sdkPagedQuery<T extends Doc>(q: Query, plan: boolean): Promise<QueryPage<T>> {
    const spec = buildSql(this.def, q);
    const shape = shapeOf(this.def, spec, q.partitionKey);
    const items: Stored<T>[] = [];
    let continuation: string | undefined = q.continuation
      ? unwrapToken(q.continuation, shape)
      : undefined;
    let total = 0;
    // Cosmos may return short pages: keep fetching (asking only for what is missing) until
    // the page is full or the results end, so the token always points just past our page.
    do {
      const it = this.iterate(
        spec,
        {
          partitionKey: q.partitionKey,
          maxItemCount: q.limit - items.length,
          continuationToken: continuation,
          sessionToken: q.sessionToken,
        },
        plan,
      );
      let page: Awaited<ReturnType<typeof it.fetchNext>>;
      try {
        page = await it.fetchNext();
      } catch (err) {
        if (continuation && statusOf(err) === 400) {
          throw new ProjectionError(
            'bad_request',
            'continuation token does not belong to this query',
            err,
          );
        }
        throw err;
      }
      total += page.requestCharge; // parsed from x-ms-request-charge as a float by the SDK
      for (const r of page.resources) items.push(strip<T>(r) as Stored<T>);
      continuation = page.hasMoreResults ? page.continuationToken : undefined;
    } while (continuation && items.length < q.limit);
    return {
      items,
      continuation: continuation ? wrapToken(continuation, shape) : null,
      requestCharge: total,
    };
  }

  /** Cosmos DB writes every copy anyway: the copies as bulk upserts (one request per 100). */
  upsertCopies(sets: CopySet[], opts?: BulkOptions): Promise<BulkResult> {
    return this.run('upsertCopies', `${sets?.length} sets`, async () => {
      checkCopySets(this.def, sets);
      // The shared document must be valid on its own, as on the embedded store.
      for (const s of sets) serializeDoc(this.def, s.doc);
      return this.bulkOps(expandCopies(this.def, sets), opts);
    });
  }

  bulk(ops: BulkOp[], opts?: BulkOptions): Promise<BulkResult> {
    return this.run('bulk', `${ops?.length} ops`, () => this.bulkOps(ops, opts));
  }

  private async bulkOps(ops: BulkOp[], opts?: BulkOptions): Promise<BulkResult> {
    if (!Array.isArray(ops))
      throw new ProjectionError('bad_request', 'bulk needs an array of operations');
    const guard = opts?.ifNewer === undefined ? undefined : checkField(opts.ifNewer);
    const inputs: OperationInput[] = ops.map((op) => {
      if (op?.op === 'upsert') {
        const { body, pk } = prepareDoc(this.def, op.doc);
        return { operationType: 'Upsert', partitionKey: pk, resourceBody: body as JSONObject };
      }
      if (op?.op === 'delete') {
        checkId(op.id);
        checkPartitionKey(op.partitionKey);
        return { operationType: 'Delete', id: op.id, partitionKey: op.partitionKey };
      }
      throw new ProjectionError(
        'bad_request',
        `unknown bulk operation ${JSON.stringify((op as { op?: unknown })?.op)}`,
      );
    });
    if (inputs.length === 0) return { statuses: [], requestCharge: 0 };
    const statuses = new Array<number>(ops.length).fill(0);
    let total = 0;
    // The version guard (Cosmos bulk has no conditional upsert on a property): read the
    // stored items, skip the not-newer ones (412), create the missing ones and replace
    // the older ones on their etag. A write that lost a race (409/412) reports 449:
    // the caller retries the batch and decides again.
    const guarded = new Set<number>();
    if (guard) {
      const keys = ops.flatMap((op, i) =>
        op.op === 'upsert' ? [{ i, id: op.doc.id, partitionKey: this.partitionKeyOf(op.doc) }] : [],
      );
      const page = await this.readMany(keys);
      total += page.requestCharge;
      const stored = new Map(page.items.map((d) => [`${this.partitionKeyOf(d)}\u0000${d.id}`, d]));
      const version = (d: unknown) => {
        const v = guard.reduce<unknown>(
          (o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined),
          d,
        );
        return typeof v === 'number' ? v : Number(v ?? Number.NEGATIVE_INFINITY);
      };
      for (const k of keys) {
        const input = inputs[k.i] as OperationInput & { resourceBody: JSONObject };
        const cur = stored.get(`${k.partitionKey}\u0000${k.id}`);
        guarded.add(k.i);
        if (cur && version(cur) >= version(input.resourceBody)) {
          statuses[k.i] = 412;
          continue;
        }
        inputs[k.i] = cur
          ? {
              operationType: 'Replace',
              id: k.id,
              partitionKey: k.partitionKey,
              resourceBody: input.resourceBody,
              ifMatch: cur._etag,
            }
          : {
              operationType: 'Create',
              partitionKey: k.partitionKey,
              resourceBody: input.resourceBody,
            };
      }
    }
    const todo = inputs.map((input, i) => ({ input, i })).filter(({ i }) => statuses[i] === 0);
    if (todo.length === 0) return { statuses, requestCharge: total };
    const results = await this.container.items.executeBulkOperations(todo.map((t) => t.input));
    results.forEach((r, k) => {
      const i = (todo[k] as { i: number }).i;
      total += r.response?.requestCharge ?? r.error?.requestCharge ?? 0;
      const status = r.response?.statusCode ?? statusOf(r.error) ?? 500;
      statuses[i] = guarded.has(i) && (status === 409 || status === 412) ? 449 : status;
    });
    return { statuses, requestCharge: total };
  }

  /**
   * The physical ranges, cached: getFeedRanges() reads the partition-key ranges each time,
   * a metadata request Cosmos throttles separately. Refreshed after FEED_RANGE_TTL_MS or
   * when a read reports a split.
   */
  async feedRanges(): Promise<FeedRange[]> {
    if (!this.rangeCache || Date.now() - this.rangeCache.at > FEED_RANGE_TTL_MS) {
      try {
        const sdk = await withTimeout(
          this.container.getFeedRanges(),
          this.timeoutMs,
          `Cosmos DB ${this.def.name} feedRanges`,
        );
        this.template = sdk[0] ?? this.template;
        this.rangeCache = {
          at: Date.now(),
          ranges: sdk.map((r) => ({ id: rangeId(r), min: r.minInclusive, max: r.maxExclusive })),
        };
      } catch (err) {
        throw cosmosError(err, `${this.def.name} feedRanges`);
      }
    }
    return [...this.rangeCache.ranges];
  }

  /** The SDK's FeedRange for any bounds (it only accepts its own class, which it does not export). */
  private async sdkRange(range: FeedRange): Promise<CosmosFeedRange> {
    if (!this.template) await this.feedRanges();
    const proto = Object.getPrototypeOf(this.template) as object;
    return Object.freeze(
      Object.assign(Object.create(proto), { minInclusive: range.min, maxExclusive: range.max }),
    ) as CosmosFeedRange;
  }

  /** Where an iterator for `range` starts; a continuation covering several physical ranges is 'gone'. */
  private async startFrom(
    range: FeedRange,
    continuation: string | null,
    opts: ReadChangesOptions | undefined,
  ): Promise<ChangeFeedStartFrom> {
    if (continuation) {
      const narrowed = narrowFeedToken(continuation, range);
      // The SDK found this range split beneath us: hand it to the children (as .NET does).
      if (narrowed.parts > 1) {
        this.rangeCache = undefined;
        throw new ProjectionError(
          'gone',
          `${this.def.name} feed range ${range.id} was split; read its children from the same continuation`,
        );
      }
      return ChangeFeedStartFrom.Continuation(narrowed.token);
    }
    const sdkRange = await this.sdkRange(range);
    if (opts?.startTime === 'now') return ChangeFeedStartFrom.Now(sdkRange);
    if (opts?.startTime) return ChangeFeedStartFrom.Time(opts.startTime, sdkRange);
    return ChangeFeedStartFrom.Beginning(sdkRange);
  }

  /**
   * The .NET estimator's way: read ONE change after the continuation and compare its LSN
   * with the partition's latest (the session token of the response), instead of reading
   * the whole backlog.
   */
  changeLag(range: FeedRange, continuation: string | null, opts: LagOptions): Promise<number> {
    return this.run('changeLag', range?.id, async () => {
      if (!isFeedRange(range))
        throw new ProjectionError(
          'bad_request',
          `unknown feed range ${JSON.stringify((range as { id?: unknown } | null)?.id)}`,
        );
      const it = this.container.items.getChangeFeedIterator<ItemDefinition>({
        maxItemCount: 1,
        changeFeedMode: ChangeFeedMode.LatestVersion,
        changeFeedStartFrom: await this.startFrom(range, continuation, opts),
      });
      const r = await it.readNext();
      const first = r.result?.[0] as { _lsn?: unknown } | undefined;
      const latest = latestLsn(r.headers);
      let lag = 0;
      if (first) {
        const lsn = Number(first._lsn);
        lag = Number.isFinite(lsn) && latest !== undefined ? Math.max(1, latest - lsn + 1) : 1;
      }
      return { lag: Math.min(lag, opts.max), requestCharge: chargeOf(r.headers) };
    }).then((x) => x.lag);
  }

  readChanges(
    range: FeedRange,
    continuation: string | null,
    maxItems = 100,
    opts?: ReadChangesOptions,
  ): Promise<ChangePage> {
    return this.run('readChanges', range?.id, async () => {
      if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 10_000) {
        throw new ProjectionError('bad_request', 'maxItems must be an integer between 1 and 10000');
      }
      if (!isFeedRange(range))
        throw new ProjectionError(
          'bad_request',
          `unknown feed range ${JSON.stringify((range as { id?: unknown } | null)?.id)}`,
        );
      const key = `${range.min}-${range.max}`;
      let cached = this.feeds.get(key);
      // Resolved every time: a token the SDK split beneath a reused iterator is 'gone' too.
      const startFrom = await this.startFrom(range, continuation, opts).catch((err) => {
        this.feeds.delete(key);
        throw err;
      });
      if (
        !cached ||
        !continuation ||
        cached.last !== continuation ||
        cached.maxItems !== maxItems
      ) {
        // One iterator per range, reused while the caller continues where it left off: a new
        // iterator re-reads the container and the partition-key ranges before its first page.
        cached = {
          it: this.container.items.getChangeFeedIterator<ItemDefinition>({
            maxItemCount: maxItems,
            changeFeedMode: ChangeFeedMode.LatestVersion,
            changeFeedStartFrom: startFrom,
          }),
          last: '',
          maxItems,
        };
        this.feeds.set(key, cached);
      }
      let r: Awaited<ReturnType<typeof cached.it.readNext>>;
      try {
        r = await cached.it.readNext();
      } catch (err) {
        this.feeds.delete(key);
        throw err;
      }
      cached.last = r.continuationToken ?? continuation ?? '';
      return {
        items: (r.result ?? []).map((d) => strip(d) as Stored),
        continuation: cached.last,
        requestCharge: chargeOf(r.headers),
      };
    });
  }
}
