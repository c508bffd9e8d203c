import {
  type ContainerDef,
  type Doc,
  type Filter,
  type PatchOp,
  ProjectionError,
  type Query,
} from './port.ts';

/**
 * Input checks shared by both adapters, so bad input fails the same way (a typed
 * 'bad_request') on Cosmos and on the embedded store, before anything is written.
 */

const bad = (message: string): ProjectionError => new ProjectionError('bad_request', message);

/** Properties the store owns; never stored from input. */
export const SYSTEM_PROPS = ['_etag', '_ts', '_rid', '_self', '_attachments', '_lsn'] as const;

const hasSystemProp = (doc: Doc): boolean => {
  for (const p of SYSTEM_PROPS) if (p in doc) return true;
  return false;
};

export const MAX_PATCH_OPS = 10;
export const MAX_DOC_BYTES = 2 * 1024 * 1024;
export const MAX_QUERY_LIMIT = 1000;

/** "/a/b" → ["a", "b"]. */
export function splitPath(path: string): string[] {
  return path.split('/').slice(1);
}

const pkFields = new WeakMap<ContainerDef, string[]>();

/** The partition-key path as segments (kept per definition: every write asks). */
export function partitionKeyField(def: ContainerDef): string[] {
  let segs = pkFields.get(def);
  if (!segs) {
    segs = splitPath(def.partitionKey);
    pkFields.set(def, segs);
  }
  return segs;
}

function getPath(doc: Record<string, unknown>, segs: string[]): unknown {
  let cur: unknown = doc;
  for (const s of segs) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[s];
  }
  return cur;
}

export function checkId(id: unknown, what = 'id'): string {
  if (typeof id !== 'string' || id.length === 0) throw bad(`${what} must be a non-empty string`);
  if (id.length > 255) throw bad(`${what} is longer than 255 characters`);
  if (/[/\\?#]/.test(id)) throw bad(`${what} must not contain '/', '\\', '?' or '#'`);
  return id;
}

export function checkPartitionKey(pk: unknown): string {
  if (typeof pk !== 'string' || pk.length === 0)
    throw bad('partition key must be a non-empty string');
  return pk;
}

export function partitionKeyOf(def: ContainerDef, doc: Doc): string {
  if (doc === null || typeof doc !== 'object') throw bad(`${def.name}: document must be an object`);
  const v = getPath(doc, partitionKeyField(def));
  if (typeof v !== 'string' || v.length === 0) {
    throw bad(
      `${def.name}: document lacks its partition key ${def.partitionKey} (a non-empty string)`,
    );
  }
  return v;
}

export function checkTtl(ttl: unknown): void {
  if (ttl === undefined) return;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || (ttl !== -1 && ttl <= 0)) {
    throw bad('ttl must be -1 or a positive integer number of seconds');
  }
}

/**
 * Validates a document for writing; returns its partition key and its JSON without system
 * properties. The bulk path sends that JSON as is (no parsed copy of each document).
 */
export function serializeDoc(def: ContainerDef, doc: Doc): { pk: string; json: string } {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw bad(`${def.name}: document must be a JSON object`);
  }
  checkId(doc.id);
  const pk = partitionKeyOf(def, doc);
  checkTtl(doc.ttl);
  // Copy only when there is something to strip: `delete` leaves an object slow to serialise.
  let body: Record<string, unknown> = doc;
  if (hasSystemProp(doc)) {
    body = { ...doc };
    for (const p of SYSTEM_PROPS) delete body[p];
  }
  let json: string;
  try {
    json = JSON.stringify(body);
  } catch (err) {
    throw new ProjectionError('bad_request', `${def.name}: document is not JSON-serialisable`, err);
  }
  // n UTF-16 units are at most 3n UTF-8 bytes: most documents skip the byte count.
  if (json.length > MAX_DOC_BYTES / 3 && Buffer.byteLength(json) > MAX_DOC_BYTES)
    throw bad(`${def.name}: document exceeds 2 MB`);
  return { pk, json };
}

/** Validates a document for writing; returns it without system properties (a copy), and its partition key. */
export function prepareDoc(
  def: ContainerDef,
  doc: Doc,
): { body: Doc; pk: string /** body as JSON */; json: string } {
  const { pk, json } = serializeDoc(def, doc);
  return { body: JSON.parse(json) as Doc, pk, json };
}

/** Effective TTL in seconds under Cosmos rules, or null for "never expires". */
export function effectiveTtl(def: ContainerDef, body: Doc): number | null {
  if (def.defaultTtl === undefined) return null; // TTL off on the container: item ttl is ignored
  const own = body.ttl;
  if (typeof own === 'number') return own === -1 ? null : own;
  return def.defaultTtl === -1 ? null : def.defaultTtl;
}

const FIELD_RE = /^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$/;

export function checkField(field: unknown): string[] {
  if (typeof field !== 'string' || !FIELD_RE.test(field)) {
    throw bad(`invalid field name ${JSON.stringify(field)} (use identifiers, dotted for nesting)`);
  }
  return field.split('.');
}

const FILTER_OPS = new Set(['=', '!=', '<', '<=', '>', '>=']);

/** Most partitions one countPerPartition call may name. */
export const MAX_COUNTED_PARTITIONS = 1000;

export function checkCountRequest(
  partitionKeys: unknown,
  opts: { max?: unknown } | undefined,
): void {
  if (!Array.isArray(partitionKeys) || partitionKeys.length > MAX_COUNTED_PARTITIONS)
    throw bad(
      `countPerPartition needs an array of at most ${MAX_COUNTED_PARTITIONS} partition keys`,
    );
  for (const pk of partitionKeys) checkPartitionKey(pk);
  const max = opts?.max;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 1_000_000)
    throw bad('countPerPartition: max must be an integer between 1 and 1,000,000');
}

export function checkQuery(q: Query): void {
  if (q === null || typeof q !== 'object') throw bad('query must be an object');
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_QUERY_LIMIT) {
    throw bad(`limit must be an integer between 1 and ${MAX_QUERY_LIMIT}`);
  }
  if (q.partitionKey !== undefined) checkPartitionKey(q.partitionKey);
  for (const f of q.filters ?? []) checkFilter(f);
  for (const o of q.orderBy ?? []) {
    checkField(o?.field);
    if (o.direction !== 'ASC' && o.direction !== 'DESC')
      throw bad('orderBy direction must be ASC or DESC');
  }
  if (q.before !== undefined) {
    checkField(q.before?.field);
    if (typeof q.before.value !== 'string' || typeof q.before.id !== 'string')
      throw bad('before needs a string value and id');
  }
  if (q.continuation != null && typeof q.continuation !== 'string')
    throw bad('continuation must be a string');
}

function checkFilter(f: Filter): void {
  if (f === null || typeof f !== 'object') throw bad('filter must be an object');
  checkField(f.field);
  if (!FILTER_OPS.has(f.op)) throw bad(`unsupported filter operator ${JSON.stringify(f.op)}`);
  const t = f.value === null ? 'null' : typeof f.value;
  if (!['string', 'number', 'boolean', 'null'].includes(t))
    throw bad('filter value must be a string, number, boolean or null');
  if (typeof f.value === 'number' && !Number.isFinite(f.value))
    throw bad('filter value must be finite');
  if ((t === 'null' || t === 'boolean') && f.op !== '=' && f.op !== '!=') {
    throw bad(`operator ${f.op} needs a string or number value`);
  }
}

const PROTECTED = new Set(['id', ...SYSTEM_PROPS]);

export function checkPatch(def: ContainerDef, ops: PatchOp[]): void {
  if (!Array.isArray(ops) || ops.length === 0) throw bad('patch needs at least one operation');
  if (ops.length > MAX_PATCH_OPS)
    throw bad(`patch allows at most ${MAX_PATCH_OPS} operations (got ${ops.length})`);
  const pkPath = def.partitionKey;
  for (const op of ops) {
    if (op === null || typeof op !== 'object') throw bad('patch operation must be an object');
    if (op.op !== 'set' && op.op !== 'incr' && op.op !== 'remove') {
      throw bad(`unsupported patch operation ${JSON.stringify((op as { op: unknown }).op)}`);
    }
    if (typeof op.path !== 'string' || !/^(\/[^/]+)+$/.test(op.path)) {
      throw bad(`invalid patch path ${JSON.stringify(op.path)}`);
    }
    const first = splitPath(op.path)[0] ?? '';
    if (op.path === pkPath || pkPath.startsWith(`${op.path}/`) || PROTECTED.has(first)) {
      throw bad(`patch may not change ${op.path} (id, partition key or a system property)`);
    }
    if (op.op === 'incr' && (typeof op.value !== 'number' || !Number.isFinite(op.value))) {
      throw bad('incr needs a finite number value');
    }
    if (op.op === 'set' && op.value === undefined) throw bad('set needs a value');
    if (first === 'ttl' && op.op !== 'remove') checkTtl(op.value);
  }
}
