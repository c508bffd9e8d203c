import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../../sql/db.ts';
import { checkCopySets } from '../copies.ts';
import { hashKey } from '../hash.ts';
import { observed } from '../observed.ts';
import { applyPatch } from '../patch.ts';
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
  type ReadResult,
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
  effectiveTtl,
  partitionKeyOf,
  prepareDoc,
  serializeDoc,
} from '../validate.ts';
import {
  type BulkTarget,
  type Copy,
  deleteSegment,
  type PreparedDoc,
  prepareCopies,
  type Segment,
  segment,
  segmentCopies,
  upsertCopiesSegment,
  upsertSegment,
} from './bulk.ts';
import { checkRange, countChanges, readChanges } from './change-feed.ts';
import { charge } from './charge.ts';
import { boundsOf, loadLayout } from './feed-layout.ts';
import { buildQuery, encodeToken, LIVE } from './query-sql.ts';
import { type DocRow, storeError, toStored } from './rows.ts';
import { LSN_SEQUENCE, q, tableName } from './schema.ts';

const newEtag = (): string => `"${randomUUID()}"`;

/** Advisory-lock key of one partition key: every writer of it serialises on this lock. */
const lockKey = (containerNo: number, pk: string): [number, number] => [
  containerNo,
  hashKey(pk) | 0,
];

const EXPIRES = (p: string) =>
  `CASE WHEN ${p}::int IS NULL THEN NULL ELSE statement_timestamp() + make_interval(secs => ${p}::int) END`;
const NOW_TS = 'extract(epoch FROM statement_timestamp())::bigint';
/** How long readChanges trusts its copy of the feed-range layout (a live split shows within this). */
const LAYOUT_TTL_MS = 1_000;

export interface EmbeddedContainerOptions {
  db: Db;
  def: ContainerDef;
  /** Position of the container in containers.json (namespace of its advisory locks). */
  containerNo: number;
  feedRanges: number;
  observer?: StoreObserver;
  /** Called when the first change listener subscribes (the store starts its LISTEN then). */
  onFirstListener?: () => void;
}

export class EmbeddedContainer implements ProjectionContainer {
  readonly def: ContainerDef;
  private readonly db: Db;
  private readonly table: string;
  private readonly no: number;
  private readonly ranges: number;
  private readonly observer?: StoreObserver;
  private layout: { ranges: FeedRange[]; at: number } | undefined;
  private readonly onFirstListener?: () => void;
  /**
   * Writers of one partition key serialise on an advisory lock taken before their txid, so
   * the change feed's order per key is commit order. Only a server needs it: PGlite is one
   * session, where a transaction always ends before the next one begins.
   */
  private readonly keyLocks: boolean;

  constructor(o: EmbeddedContainerOptions) {
    this.db = o.db;
    this.keyLocks = o.db.engine !== 'pglite';
    this.def = o.def;
    this.table = q(tableName(o.def));
    this.no = o.containerNo;
    this.ranges = o.feedRanges;
    this.observer = o.observer;
    this.onFirstListener = o.onFirstListener;
  }

  private readonly listeners = new Set<() => void>();

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.onFirstListener?.();
    return () => void this.listeners.delete(listener);
  }

  /** Wakes this process's change-feed readers: a write to the container committed. */
  notifyChange(): void {
    for (const fn of this.listeners) fn();
  }

  private run<T extends Charged>(operation: string, fn: () => Promise<T>): Promise<T> {
    return observed(this.observer, this.def.name, operation, async () => {
      try {
        return await fn();
      } catch (err) {
        throw storeError(err);
      }
    });
  }

  partitionKeyOf(doc: Doc): string {
    return partitionKeyOf(this.def, doc);
  }

  upsert<T extends Doc>(doc: T, opts?: WriteOptions): Promise<WriteResult<T>> {
    return this.run('upsert', async () => {
      const w = await this.write<T>(doc, opts?.ifMatch ? 'replace' : 'upsert', opts?.ifMatch);
      this.notifyChange();
      return w.result;
    });
  }

  create<T extends Doc>(doc: T): Promise<WriteResult<T>> {
    return this.run('create', async () => {
      const w = await this.write<T>(doc, 'create');
      this.notifyChange();
      return w.result;
    });
  }

  /** One statement per write: lock the partition key, then take the txid and lsn. */
  private async write<T extends Doc>(
    doc: T,
    mode: 'upsert' | 'create' | 'replace',
    ifMatch?: string,
  ): Promise<{ result: WriteResult<T>; inserted: boolean }> {
    const { body, pk } = prepareDoc(this.def, doc);
    if (ifMatch !== undefined && (typeof ifMatch !== 'string' || ifMatch === '')) {
      throw new ProjectionError('bad_request', 'ifMatch must be a non-empty etag string');
    }
    const json = JSON.stringify(body);
    const etag = newEtag();
    const ttl = effectiveTtl(this.def, body);
    const [k1, k2] = lockKey(this.no, pk);
    const lock = this.keyLocks
      ? 'WITH l AS MATERIALIZED (SELECT 1 AS locked FROM pg_advisory_xact_lock($1::int, $2::int))'
      : 'WITH l AS (SELECT 1 AS locked WHERE $1::int IS NOT NULL AND $2::int IS NOT NULL)';
    let rows: { ts: number; inserted: boolean }[];
    if (mode === 'replace') {
      ({ rows } = await this.db.query<{ ts: number; inserted: boolean }>(
        `${lock}
         UPDATE ${this.table} AS x SET body = $5::jsonb, etag = $6, ts = ${NOW_TS}, lsn = nextval('${LSN_SEQUENCE}'),
                txid = pg_current_xact_id(), expires_at = ${EXPIRES('$7')}
           FROM l WHERE x.pk = $3 AND x.id = $4 AND x.etag = $8 AND ${LIVE.replaceAll('expires_at', 'x.expires_at')}
         RETURNING x.ts, false AS inserted`,
        [k1, k2, pk, body.id, json, etag, ttl, ifMatch],
      ));
      if (rows.length === 0) {
        throw new ProjectionError(
          'precondition_failed',
          `${this.def.name}/${body.id}: etag does not match (or the item is gone)`,
        );
      }
    } else {
      const onConflict =
        mode === 'create'
          ? `WHERE x.expires_at IS NOT NULL AND x.expires_at <= statement_timestamp()` // only an expired (invisible) item may be replaced
          : '';
      ({ rows } = await this.db.query<{ ts: number; inserted: boolean }>(
        `${lock}
         INSERT INTO ${this.table} AS x (pk, id, body, etag, ts, lsn, txid, feed_range, expires_at)
         SELECT $3, $4, $5::jsonb, $6, ${NOW_TS}, nextval('${LSN_SEQUENCE}'), pg_current_xact_id(), $8::int, ${EXPIRES('$7')}
           FROM l
         ON CONFLICT (pk, id) DO UPDATE SET body = excluded.body, etag = excluded.etag, ts = excluded.ts,
                lsn = excluded.lsn, txid = excluded.txid, feed_range = excluded.feed_range, expires_at = excluded.expires_at
                ${onConflict}
         RETURNING x.ts, (x.xmax = 0) AS inserted`,
        [k1, k2, pk, body.id, json, etag, ttl, hashKey(pk) % this.ranges],
      ));
      if (rows.length === 0)
        throw new ProjectionError('conflict', `${this.def.name}/${body.id} already exists`);
    }
    const row = rows[0] as { ts: number; inserted: boolean };
    return {
      result: {
        resource: toStored<T>({ body, etag, ts: row.ts }),
        requestCharge: charge.write(json),
      },
      inserted: row.inserted,
    };
  }

  read<T extends Doc>(id: string, partitionKey: string): Promise<ReadResult<T>> {
    return this.run('read', async () => {
      checkId(id);
      checkPartitionKey(partitionKey);
      const { rows } = await this.db.query<DocRow>(
        `SELECT body, etag, ts FROM ${this.table} WHERE pk = $1 AND id = $2 AND ${LIVE}`,
        [partitionKey, id],
      );
      const r = rows[0];
      return { resource: r ? toStored<T>(r) : undefined, requestCharge: charge.read };
    });
  }

  readMany<T extends Doc>(keys: { id: string; partitionKey: string }[]): Promise<QueryPage<T>> {
    return this.run('readMany', async () => {
      if (!Array.isArray(keys))
        throw new ProjectionError('bad_request', 'readMany needs an array of keys');
      for (const k of keys) {
        checkId(k?.id);
        checkPartitionKey(k?.partitionKey);
      }
      if (keys.length === 0)
        return { items: [], continuation: null, requestCharge: charge.readMany(0) };
      const { rows } = await this.db.query<DocRow & { pk: string; id: string }>(
        `SELECT pk, id, body, etag, ts FROM ${this.table}
          WHERE (pk, id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND ${LIVE}`,
        [keys.map((k) => k.partitionKey), keys.map((k) => k.id)],
      );
      const found = new Map(rows.map((r) => [`${r.pk}\u0000${r.id}`, r]));
      const items: ReturnType<typeof toStored<T>>[] = [];
      for (const k of keys) {
        const key = `${k.partitionKey}\u0000${k.id}`;
        const r = found.get(key);
        if (r) {
          items.push(toStored<T>(r));
          found.delete(key);
        }
      }
      return { items, continuation: null, requestCharge: charge.readMany(items.length) };
    });
  }

  delete(
    id: string,
    partitionKey: string,
    opts?: WriteOptions,
  ): Promise<Charged & { deleted: boolean }> {
    return this.run('delete', () => this.remove(id, partitionKey, opts?.ifMatch));
  }

  private async remove(
    id: string,
    partitionKey: string,
    ifMatch?: string,
  ): Promise<Charged & { deleted: boolean }> {
    checkId(id);
    checkPartitionKey(partitionKey);
    const params: unknown[] = [partitionKey, id];
    if (ifMatch !== undefined) params.push(ifMatch);
    const { rows } = await this.db.query<{ live: boolean }>(
      `DELETE FROM ${this.table} WHERE pk = $1 AND id = $2 ${ifMatch !== undefined ? 'AND etag = $3' : ''}
       RETURNING ${LIVE} AS live`,
      params,
    );
    if (rows.length === 0 && ifMatch !== undefined) {
      const exists = await this.db.query(
        `SELECT 1 FROM ${this.table} WHERE pk = $1 AND id = $2 AND ${LIVE}`,
        [partitionKey, id],
      );
      if (exists.rows.length > 0) {
        throw new ProjectionError(
          'precondition_failed',
          `${this.def.name}/${id}: etag does not match`,
        );
      }
    }
    return { deleted: rows[0]?.live === true, requestCharge: charge.delete };
  }

  patch<T extends Doc>(
    id: string,
    partitionKey: string,
    ops: PatchOp[],
    opts?: WriteOptions,
  ): Promise<WriteResult<T>> {
    return this.run('patch', async () => {
      checkId(id);
      checkPartitionKey(partitionKey);
      checkPatch(this.def, ops);
      const [k1, k2] = lockKey(this.no, partitionKey);
      // One transaction: lock the partition key (before any txid exists), read, apply, write.
      const patched = await this.db.transaction(async (tx: Queryable) => {
        if (this.keyLocks)
          await tx.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [k1, k2]);
        const { rows } = await tx.query<DocRow>(
          `SELECT body, etag, ts FROM ${this.table} WHERE pk = $1 AND id = $2 AND ${LIVE} FOR UPDATE`,
          [partitionKey, id],
        );
        const cur = rows[0];
        if (!cur) throw new ProjectionError('not_found', `${this.def.name}/${id} does not exist`);
        if (opts?.ifMatch !== undefined && cur.etag !== opts.ifMatch) {
          throw new ProjectionError(
            'precondition_failed',
            `${this.def.name}/${id}: etag does not match`,
          );
        }
        const next = applyPatch(cur.body, ops);
        const { body } = prepareDoc(this.def, next);
        const etag = newEtag();
        const ttl = effectiveTtl(this.def, body);
        const json = JSON.stringify(body);
        const upd = await tx.query<{ ts: number }>(
          `UPDATE ${this.table} SET body = $3::jsonb, etag = $4, ts = ${NOW_TS}, lsn = nextval('${LSN_SEQUENCE}'),
                  txid = pg_current_xact_id(), expires_at = ${EXPIRES('$5')}
            WHERE pk = $1 AND id = $2 RETURNING ts`,
          [partitionKey, id, json, etag, ttl],
        );
        const ts = (upd.rows[0] as { ts: number }).ts;
        return {
          resource: toStored<T>({ body, etag, ts }),
          requestCharge: charge.patch(ops.length),
        };
      });
      this.notifyChange();
      return patched;
    });
  }

  query<T extends Doc>(query: Query): Promise<QueryPage<T>> {
    return this.run('query', async () => {
      checkQuery(query);
      const built = buildQuery(this.def, query);
      const { rows } = await this.db.query<DocRow & Record<string, string | null>>(
        built.sql,
        built.params,
      );
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      const continuation =
        rows.length > query.limit && last
          ? encodeToken(
              built.shape,
              Array.from(
                { length: built.keys },
                (_, i) => (last[`k${i}`] as string | null) ?? null,
              ),
            )
          : null;
      return {
        items: page.map((r) => toStored<T>(r)),
        continuation,
        requestCharge: charge.query(page.length),
      };
    });
  }

  countPerPartition(partitionKeys: string[], opts: { max: number }): Promise<PartitionCounts> {
    return this.run('countPerPartition', async () => {
      checkCountRequest(partitionKeys, opts);
      if (partitionKeys.length === 0) return { counts: [], requestCharge: 0 };
      // Each count stops at max rows of its partition's primary-key range.
      const { rows } = await this.db.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM (
                   SELECT 1 FROM ${this.table} WHERE pk = k.pk AND ${LIVE} LIMIT $2
                 ) s)::int AS n
           FROM unnest($1::text[]) WITH ORDINALITY AS k(pk, o)
          ORDER BY k.o`,
        [partitionKeys, opts.max],
      );
      return { counts: rows.map((r) => r.n), requestCharge: charge.query(partitionKeys.length) };
    });
  }

  private bulkTarget(): BulkTarget {
    return {
      def: this.def,
      table: this.table,
      containerNo: this.no,
      ranges: this.ranges,
      keyLocks: this.keyLocks,
    };
  }

  bulk(ops: BulkOp[], opts?: BulkOptions): Promise<BulkResult> {
    return this.run('bulk', async () => {
      if (!Array.isArray(ops))
        throw new ProjectionError('bad_request', 'bulk needs an array of operations');
      if (opts?.ifNewer !== undefined) checkField(opts.ifNewer);
      // Validate everything first: bad input writes nothing.
      const prepared = ops.map((op) => {
        if (op?.op === 'upsert') return { doc: op.doc, ...serializeDoc(this.def, op.doc) };
        if (op?.op === 'delete') {
          checkId(op.id);
          checkPartitionKey(op.partitionKey);
          return undefined;
        }
        throw new ProjectionError(
          'bad_request',
          `unknown bulk operation ${JSON.stringify((op as { op?: unknown })?.op)}`,
        );
      });
      const target = this.bulkTarget();
      const pkAt = (i: number) => {
        const op = ops[i]!;
        return op.op === 'upsert' ? (prepared[i] as PreparedDoc).pk : op.partitionKey;
      };
      return this.applySegments(ops.length, segment(ops, pkAt), (seg) =>
        seg.kind === 'upsert'
          ? upsertSegment(
              this.db,
              target,
              seg.indexes.map((i) => prepared[i] as PreparedDoc),
              opts?.ifNewer,
            )
          : deleteSegment(
              this.db,
              target,
              seg.indexes.map((i) => ops[i] as BulkOp),
            ),
      );
    });
  }

  /**
   * Runs each segment's statement in turn and puts its statuses back in op order; upserts
   * wake the container's change-feed readers.
   */
  private async applySegments(
    n: number,
    segments: Segment[],
    run: (seg: Segment) => Promise<{ statuses: number[]; requestCharge: number }>,
  ): Promise<BulkResult> {
    const statuses = new Array<number>(n).fill(0);
    let requestCharge = 0;
    for (const seg of segments) {
      const r = await run(seg);
      seg.indexes.forEach((i, k) => {
        statuses[i] = r.statuses[k] as number;
      });
      requestCharge += r.requestCharge;
      if (seg.kind === 'upsert') this.notifyChange();
    }
    return { statuses, requestCharge };
  }

  upsertCopies(sets: CopySet[], opts?: BulkOptions): Promise<BulkResult> {
    return this.run('upsertCopies', async () => {
      const n = checkCopySets(this.def, sets);
      if (opts?.ifNewer !== undefined) checkField(opts.ifNewer);
      // Each shared document validated and serialised once; the copies' keys replace its own.
      const prepared = sets.map((s) => prepareCopies(this.def, s.doc));
      const copies: Copy[] = [];
      sets.forEach((s, set) => {
        for (const t of s.targets) copies.push({ set, pk: t.partitionKey, id: t.id });
      });
      const target = this.bulkTarget();
      return this.applySegments(n, segmentCopies(copies), (seg) =>
        upsertCopiesSegment(
          this.db,
          target,
          prepared,
          seg.indexes.map((i) => copies[i]!),
          opts?.ifNewer,
        ),
      );
    });
  }

  /** The layout, cached like the SDK's routing map: refreshed when stale or when it says 'gone'. */
  private async currentLayout(fresh: boolean): Promise<FeedRange[]> {
    if (fresh || !this.layout || Date.now() - this.layout.at > LAYOUT_TTL_MS)
      this.layout = { ranges: await loadLayout(this.db, this.def.name), at: Date.now() };
    return this.layout.ranges;
  }

  async feedRanges(): Promise<FeedRange[]> {
    try {
      return [...(await this.currentLayout(true))];
    } catch (err) {
      throw storeError(err);
    }
  }

  readChanges(
    range: FeedRange,
    continuation: string | null,
    maxItems = 100,
    opts?: ReadChangesOptions,
  ): Promise<ChangePage> {
    return this.run('readChanges', async () => {
      const bounds = await this.readableBounds(range);
      return readChanges(this.db, this.def, bounds, continuation, maxItems, opts);
    });
  }

  async changeLag(
    range: FeedRange,
    continuation: string | null,
    opts: LagOptions,
  ): Promise<number> {
    try {
      return await countChanges(
        this.db,
        this.def,
        await this.readableBounds(range),
        continuation,
        opts,
      );
    } catch (err) {
      throw storeError(err);
    }
  }

  /** The range's bounds when it lies within one current range; 'gone' when it was split. */
  private async readableBounds(range: FeedRange): Promise<[number, number]> {
    const bounds = boundsOf(range);
    const id = String(range?.id);
    let where = checkRange(await this.currentLayout(false), bounds, id);
    if (where === 'gone') where = checkRange(await this.currentLayout(true), bounds, id);
    if (where === 'gone') {
      throw new ProjectionError(
        'gone',
        `${this.def.name} feed range ${id} was split; read its children from the same continuation`,
      );
    }
    return bounds;
  }
}
