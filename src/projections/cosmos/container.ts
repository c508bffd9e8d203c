import { createHash } from 'node:crypto';
import {
  ChangeFeedMode,
  ChangeFeedStartFrom,
  type Container,
  type FeedRange as CosmosFeedRange,
  type ItemDefinition,
  type JSONObject,
  type OperationInput,
  type PatchOperation,
  type RequestOptions,
} from '@azure/cosmos';
import { observed } from '../observed.ts';
import {
  type BulkOp,
  type BulkOptions,
  type BulkResult,
  type ChangePage,
  type Charged,
  type ContainerDef,
  type Doc,
  type FeedRange,
  type PatchOp,
  type ProjectionContainer,
  ProjectionError,
  type Query,
  type QueryPage,
  type ReadResult,
  type Stored,
  type StoreObserver,
  type WriteOptions,
  type WriteResult,
} from '../port.ts';
import {
  checkField,
  checkId,
  checkPartitionKey,
  checkPatch,
  checkQuery,
  partitionKeyOf,
  prepareDoc,
} from '../validate.ts';
import { chargeOf, cosmosError, statusOf } from './errors.ts';
import { buildSql } from './query.ts';

/** Server-set properties we do not hand out (the port exposes _etag and _ts only). */
const strip = <T extends Doc>(r: ItemDefinition | undefined): Stored<T> | undefined => {
  if (!r) return undefined;
  const { _rid, _self, _attachments, _lsn, ...rest } = r as Record<string, unknown>;
  return rest as Stored<T>;
};

const ifMatch = (etag: string | undefined): RequestOptions | undefined =>
  etag === undefined ? undefined : { accessCondition: { type: 'IfMatch', condition: etag } };

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

/** Feed ranges are named by their effective-partition-key bounds (stable, id-safe). */
const rangeId = (r: CosmosFeedRange): string => `${r.minInclusive || '00'}-${r.maxExclusive}`;

export class CosmosContainer implements ProjectionContainer {
  private ranges = new Map<string, CosmosFeedRange>();

  constructor(
    readonly def: ContainerDef,
    private readonly container: Container,
    private readonly observer?: StoreObserver,
  ) {}

  private run<T extends Charged>(
    operation: string,
    what: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    return observed(this.observer, this.def.name, operation, async () => {
      try {
        return await fn();
      } catch (err) {
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
          };
        } catch (err) {
          if (statusOf(err) === 404) {
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
      return { resource: strip<T>(r.resource) as Stored<T>, requestCharge: chargeOf(r.headers) };
    });
  }

  create<T extends Doc>(doc: T): Promise<WriteResult<T>> {
    return this.run('create', String(doc?.id), async () => {
      const { body } = prepareDoc(this.def, doc);
      const r = await this.container.items.create(body);
      return { resource: strip<T>(r.resource) as Stored<T>, requestCharge: chargeOf(r.headers) };
    });
  }

  read<T extends Doc>(id: string, partitionKey: string): Promise<ReadResult<T>> {
    return this.run('read', id, async () => {
      checkId(id);
      checkPartitionKey(partitionKey);
      try {
        const r = await this.container.item(id, partitionKey).read<ItemDefinition>();
        return {
          resource: r.statusCode === 404 ? undefined : strip<T>(r.resource),
          requestCharge: chargeOf(r.headers),
        };
      } catch (err) {
        if (statusOf(err) === 404)
          return {
            resource: undefined,
            requestCharge: chargeOf((err as { headers?: never }).headers),
          };
        throw err;
      }
    });
  }

  readMany<T extends Doc>(keys: { id: string; partitionKey: string }[]): Promise<QueryPage<T>> {
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
      let next = 0;
      const worker = async () => {
        while (next < keys.length) {
          const i = next++;
          const k = keys[i] as { id: string; partitionKey: string };
          const r = await this.read<T>(k.id, k.partitionKey);
          out[i] = r.resource;
          total += r.requestCharge;
        }
      };
      await Promise.all(Array.from({ length: Math.min(16, keys.length) }, worker));
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
  ): Promise<Charged & { deleted: boolean }> {
    return this.run('delete', id, async () => {
      checkId(id);
      checkPartitionKey(partitionKey);
      checkEtag(opts?.ifMatch);
      try {
        const r = await this.container.item(id, partitionKey).delete(ifMatch(opts?.ifMatch));
        return { deleted: true, requestCharge: chargeOf(r.headers) };
      } catch (err) {
        if (statusOf(err) === 404)
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
      return { resource: strip<T>(r.resource) as Stored<T>, requestCharge: chargeOf(r.headers) };
    });
  }

  query<T extends Doc>(q: Query): Promise<QueryPage<T>> {
    return this.run('query', '', async () => {
      checkQuery(q);
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
        const it = this.container.items.query<ItemDefinition>(spec, {
          partitionKey: q.partitionKey,
          maxItemCount: q.limit - items.length,
          continuationToken: continuation,
        });
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
    });
  }

  bulk(ops: BulkOp[], opts?: BulkOptions): Promise<BulkResult> {
    return this.run('bulk', `${ops?.length} ops`, async () => {
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
          op.op === 'upsert'
            ? [{ i, id: op.doc.id, partitionKey: this.partitionKeyOf(op.doc) }]
            : [],
        );
        const page = await this.readMany(keys);
        total += page.requestCharge;
        const stored = new Map(
          page.items.map((d) => [`${this.partitionKeyOf(d)}\u0000${d.id}`, d]),
        );
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
    });
  }

  async feedRanges(): Promise<FeedRange[]> {
    try {
      const ranges = await this.container.getFeedRanges();
      this.ranges = new Map(ranges.map((r) => [rangeId(r), r]));
      return [...this.ranges.keys()].map((id) => ({ id }));
    } catch (err) {
      throw cosmosError(err, `${this.def.name} feedRanges`);
    }
  }

  readChanges(range: FeedRange, continuation: string | null, maxItems = 100): Promise<ChangePage> {
    return this.run('readChanges', range?.id, async () => {
      if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 10_000) {
        throw new ProjectionError('bad_request', 'maxItems must be an integer between 1 and 10000');
      }
      if (!this.ranges.has(range?.id)) await this.feedRanges();
      const feedRange = this.ranges.get(range?.id);
      if (!feedRange)
        throw new ProjectionError('bad_request', `unknown feed range ${JSON.stringify(range?.id)}`);
      const it = this.container.items.getChangeFeedIterator<ItemDefinition>({
        maxItemCount: maxItems,
        changeFeedMode: ChangeFeedMode.LatestVersion,
        changeFeedStartFrom: continuation
          ? ChangeFeedStartFrom.Continuation(continuation)
          : ChangeFeedStartFrom.Beginning(feedRange),
      });
      const r = await it.readNext();
      return {
        items: (r.result ?? []).map((d) => strip(d) as Stored),
        continuation: r.continuationToken ?? continuation ?? '',
        requestCharge: chargeOf(r.headers),
      };
    });
  }
}
