/**
 * The projection-store port: a document store with Cosmos DB's semantics. Two adapters
 * implement it (cosmos/ on @azure/cosmos, embedded/ on PostgreSQL) and one contract-test
 * suite checks both. Nothing here knows what the documents mean.
 */

export interface CompositePath {
  path: string;
  order: 'ascending' | 'descending';
}

export interface IndexingPolicy {
  indexingMode: 'consistent' | 'none';
  includedPaths: { path: string }[];
  excludedPaths: { path: string }[];
  compositeIndexes?: CompositePath[][];
}

export interface ContainerDef {
  name: string;
  /** A single top-level path such as "/postId". */
  partitionKey: string;
  /** Cosmos defaultTtl: undefined = never expires, -1 = only items with `ttl`, n = seconds. */
  defaultTtl?: number;
  indexingPolicy: IndexingPolicy;
  /**
   * Cosmos autoscale: the container scales between 10% of this and this many RU/s. Absent =
   * the container shares the database's throughput. The embedded store ignores it.
   */
  autoscaleMaxThroughput?: number;
}

/** Every document has an id; its partition-key property is named by the container. */
export interface Doc {
  id: string;
  /** Per-item TTL in seconds (Cosmos semantics); -1 = never expires. */
  ttl?: number;
  [key: string]: unknown;
}

/** System properties the store adds on every stored document. */
export interface SystemProps {
  _etag: string;
  /** Seconds since epoch of the last write. */
  _ts: number;
}

export type Stored<T extends Doc = Doc> = T & SystemProps;

/** Cost of one call: Cosmos request units, or the embedded store's equivalent. */
export interface Charged {
  requestCharge: number;
}

/**
 * Read-your-writes across processes: a write reports an opaque session token (Cosmos: the
 * response's session token, valid for this container only); a read given it is served by a
 * replica at least that recent, whichever process reads. The embedded store is one
 * PostgreSQL (always read-your-writes) and reports none. See session.ts.
 */
export interface Sessioned {
  sessionToken?: string;
}

export interface WriteResult<T extends Doc> extends Charged, Sessioned {
  resource: Stored<T>;
}

/** For reads: the session token of earlier writes to this container (see Sessioned). */
export interface ReadOptions {
  sessionToken?: string;
}

export interface ReadResult<T extends Doc> extends Charged {
  /** undefined when the item does not exist (or has expired). */
  resource: Stored<T> | undefined;
}

export interface WriteOptions {
  /** Only succeed if the stored item still has this etag (else ProjectionError 'precondition_failed'). */
  ifMatch?: string;
}

export type PatchOp =
  | { op: 'set'; path: string; value: unknown }
  | { op: 'incr'; path: string; value: number }
  | { op: 'remove'; path: string };

export type FilterOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export interface Filter {
  field: string;
  op: FilterOp;
  value: string | number | boolean | null;
}

export interface Query {
  /** Partition-scoped when set (the normal case); cross-partition when omitted. */
  partitionKey?: string;
  filters?: Filter[];
  orderBy?: { field: string; direction: 'ASC' | 'DESC' }[];
  /**
   * Keyset bound for a newest-first walk that resumes at a position it did not page to
   * itself: only items strictly before (value, id) in (field DESC, id DESC) order, i.e.
   * `field < value OR (field = value AND id < id)`. Items that tie on `field` are never
   * read again.
   */
  before?: { field: string; value: string; id: string };
  limit: number;
  /** Opaque token from a previous page. */
  continuation?: string | null;
  /** Read at least as recent as the writes that returned this token (see Sessioned). */
  sessionToken?: string;
}

export interface QueryPage<T extends Doc> extends Charged {
  items: Stored<T>[];
  /** null when there are no more pages. */
  continuation: string | null;
}

export interface PartitionCounts extends Charged {
  /** One per partition key given, in order. */
  counts: number[];
}

export type BulkOp<T extends Doc = Doc> =
  | { op: 'upsert'; doc: T }
  | { op: 'delete'; id: string; partitionKey: string };

/**
 * One document written under many keys (upsertCopies): `doc` once per target, with the
 * target's id and partition key in place of its own. `doc` must be a valid document
 * itself (an id and a partition key of its own).
 */
export interface CopySet<T extends Doc = Doc> {
  doc: T;
  targets: ItemKey[];
}

/** An item's address: its id within its partition. */
export interface ItemKey {
  id: string;
  partitionKey: string;
}

export interface BulkResult extends Charged {
  /**
   * One per op, in order: HTTP-like status (200/201 upsert, 204 delete, 404 missing delete,
   * 412 upsert skipped by `ifNewer`, 429...).
   */
  statuses: number[];
}

export interface BulkOptions {
  /**
   * Version guard: an upsert replaces a stored item only if the item's numeric property of
   * this name is lower than the new document's (or missing); otherwise it writes nothing
   * and reports 412. A late, older write never overwrites a newer one.
   */
  ifNewer?: string;
}

/**
 * An interval [min, max) of the effective-partition-key space (hex strings compared as
 * strings; '' is the lowest key, 'FF' above every key). See feed-range.ts.
 */
export interface FeedRange {
  /** Stable identifier of the range (used as the lease id suffix). */
  id: string;
  min: string;
  max: string;
}

export interface ReadChangesOptions {
  /**
   * With no continuation: only changes written at or after this time, or 'now' for only
   * those written after this call (default: from the beginning).
   */
  startTime?: Date | 'now';
}

export interface ChangePage extends Charged {
  /** Latest version of each changed item, in the order the range committed them. Never deletes. */
  items: Stored[];
  /** Where to resume; pass back to read only newer changes. */
  continuation: string;
  /**
   * Set by stores that know it: true when committed changes after the continuation exist
   * that this read could not return yet (the embedded store's horizon has not passed them
   * because an older transaction is still open), so reading again soon will find them;
   * false when nothing is waiting. Undefined: the store cannot tell.
   */
  pending?: boolean;
}

export interface ProjectionContainer {
  readonly def: ContainerDef;
  /** Value of the partition-key property of a document (throws 'bad_request' if missing). */
  partitionKeyOf(doc: Doc): string;
  upsert<T extends Doc>(doc: T, opts?: WriteOptions): Promise<WriteResult<T>>;
  /** Inserts; ProjectionError 'conflict' if an item with this id exists in the partition. */
  create<T extends Doc>(doc: T): Promise<WriteResult<T>>;
  read<T extends Doc>(id: string, partitionKey: string, opts?: ReadOptions): Promise<ReadResult<T>>;
  readMany<T extends Doc>(keys: ItemKey[], opts?: ReadOptions): Promise<QueryPage<T>>;
  /** Deletes; resolves even if the item was already gone (deleted: false). */
  delete(
    id: string,
    partitionKey: string,
    opts?: WriteOptions,
  ): Promise<Charged & Sessioned & { deleted: boolean }>;
  /** Applies up to 10 operations atomically; 'not_found' if the item is missing. */
  patch<T extends Doc>(
    id: string,
    partitionKey: string,
    ops: PatchOp[],
    opts?: WriteOptions,
  ): Promise<WriteResult<T>>;
  query<T extends Doc>(q: Query): Promise<QueryPage<T>>;
  /**
   * How many live items each partition holds, counting no further than `max` (a count of
   * `max` means "at least max"): a size check for many partitions without reading them.
   * One statement on the embedded store; one COUNT query per partition on Cosmos DB.
   */
  countPerPartition(partitionKeys: string[], opts: { max: number }): Promise<PartitionCounts>;
  /** Many writes, possibly across partitions; not atomic. */
  bulk(ops: BulkOp[], opts?: BulkOptions): Promise<BulkResult>;
  /**
   * bulk() with one upsert per target of each set (statuses per target, sets in order),
   * for many items that differ only in their key (a post in every follower's feed). The
   * shared document is validated and serialised once per set: the embedded store sends it
   * once and builds each copy in the statement; Cosmos DB gets one upsert per copy.
   */
  upsertCopies(sets: CopySet[], opts?: BulkOptions): Promise<BulkResult>;
  feedRanges(): Promise<FeedRange[]>;
  /**
   * Calls `listener` soon after a write to this container commits, so change-feed readers
   * need not wait out their poll; returns the unsubscribe. Optional: a store without it
   * (Cosmos DB) is polled. A hint only: readers still read from their checkpoint.
   */
  onChange?(listener: () => void): () => void;
  /**
   * Changes in one feed range after `continuation` (null = from the beginning, or from
   * `startTime`). The range may be any part of a current feed range (a lease kept across a
   * merge), and the continuation may come from a range that contains it (a parent before a
   * split): its position stays valid for every part. A range that now spans several feed
   * ranges (it was split) is ProjectionError 'gone': re-read feedRanges() and continue
   * each child from the same continuation.
   */
  readChanges(
    range: FeedRange,
    continuation: string | null,
    maxItems?: number,
    opts?: ReadChangesOptions,
  ): Promise<ChangePage>;
  /**
   * About how many changes of `range` lie after `continuation` (capped at max), cheaply:
   * Cosmos reads one change and compares its LSN with the partition's latest (as the .NET
   * estimator does); the embedded store counts positions in its feed index. 'gone' as readChanges.
   */
  changeLag(range: FeedRange, continuation: string | null, opts: LagOptions): Promise<number>;
}

export interface LagOptions extends ReadChangesOptions {
  /** Stop counting here: the lag is then at least `max`. */
  max: number;
}

export interface ProjectionStore {
  readonly kind: 'cosmos' | 'embedded';
  container(name: string): ProjectionContainer;
  definitions(): ContainerDef[];
  /** Creates containers (and indexes) that do not exist; idempotent. */
  provision(): Promise<void>;
  /** Cheap round trip for readiness checks; throws when unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Called once per store request; observability turns this into metrics. */
export interface StoreObserver {
  onRequest(e: {
    container: string;
    operation: string;
    requestCharge: number;
    durationMs: number;
    throttled?: boolean;
  }): void;
}

export type ProjectionErrorCode =
  | 'bad_request'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'unknown_container'
  | 'throttled'
  | 'gone'
  | 'unavailable'
  /** A failure no retry can fix (an SDK or programming error, a refused key). */
  | 'internal';

export class ProjectionError extends Error {
  constructor(
    readonly code: ProjectionErrorCode,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'ProjectionError';
  }
}

export const isProjectionError = (e: unknown, code?: ProjectionErrorCode): e is ProjectionError =>
  e instanceof ProjectionError && (code === undefined || e.code === code);
