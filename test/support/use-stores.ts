import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { Db } from '../../src/sql/db.ts';
import { canonicalDb, type ScratchDb, truncateAll } from './databases.ts';
import { embeddedStore, emptyStore, type TestStore } from './projections.ts';

/**
 * The scratch-store setup every suite repeats, as one call at the top of a describe block:
 * the store is opened in beforeAll, closed in afterAll, and (with `reset: 'each'`) emptied
 * before every test. The returned handle reads through to the open store, so use it inside
 * hooks and tests, not at collection time.
 */

// Starting PGlite takes seconds, much longer on a loaded machine.
const STARTUP_TIMEOUT_MS = 180_000;

function handle<T extends object>(what: string, get: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_, prop) {
      const open = get();
      if (!open) throw new Error(`${what} is opened in beforeAll: use it inside hooks and tests`);
      return Reflect.get(open, prop);
    },
  });
}

interface UseOptions {
  poolMax?: number;
  /** 'each': empty it before every test. */
  reset?: 'each';
}

/** A migrated canonical database for this describe block. */
export function useCanonicalDb(opts: UseOptions = {}): ScratchDb {
  let s: ScratchDb | undefined;
  beforeAll(async () => {
    s = await canonicalDb({ poolMax: opts.poolMax });
  }, STARTUP_TIMEOUT_MS);
  afterAll(async () => {
    await s?.close();
  });
  if (opts.reset === 'each') beforeEach(() => truncateAll(s!.db));
  return handle('the canonical database', () => s);
}

/** An empty embedded projection store for this describe block. */
export function useEmbeddedStore(
  opts: UseOptions & Parameters<typeof embeddedStore>[0] = {},
): TestStore {
  let s: TestStore | undefined;
  beforeAll(async () => {
    s = await embeddedStore(opts);
  }, STARTUP_TIMEOUT_MS);
  afterAll(async () => {
    await s?.close();
  });
  if (opts.reset === 'each') beforeEach(() => emptyStore(s!));
  return handle('the projection store', () => s);
}

/** Empties both stores: canonical rows and every projection container. */
export async function resetStores(canon: { db: Db }, proj: TestStore): Promise<void> {
  await truncateAll(canon.db);
  await emptyStore(proj);
}
