/**
 * The cold-storage port: a flat key → bytes store. Two adapters (blob-store.ts on Azure Blob
 * Storage, directory-store.ts on a local directory) pass one contract suite. Keys are
 * slash-separated relative paths; a put replaces the whole object atomically.
 */
export interface ObjectStore {
  readonly kind: 'blob' | 'directory';
  /** Where it writes, for messages (container URL without credentials, or a path). */
  readonly location: string;
  put(key: string, body: Buffer): Promise<void>;
  /** undefined when there is no such object. */
  get(key: string): Promise<Buffer | undefined>;
  /** Keys starting with prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Resolves whether or not the object existed. */
  delete(key: string): Promise<void>;
}

/** Every call to the object store gives up after this long. */
export const OBJECT_STORE_TIMEOUT_MS = 30_000;

const KEY_RE = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;

export class ObjectStoreError extends Error {
  override name = 'ObjectStoreError';
}

/** Rejects keys that could escape a directory or mean different things on the two adapters. */
export function checkKey(key: string): string {
  if (typeof key !== 'string' || key.length > 512 || !KEY_RE.test(key) || key.includes('..'))
    throw new ObjectStoreError(`invalid object key ${JSON.stringify(key)}`);
  return key;
}

/** Prefixes may end with a slash (a "folder") or be empty. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}
