import { afterAll, beforeAll } from 'vitest';
import { type ApiHarness, startApi } from '../api/harness.ts';

/**
 * The API harness for one describe block: started before its tests (before the block's own
 * beforeAll, which can register users on it) and closed after them. The returned object is
 * filled in when the harness starts, so tests use it as they would the harness itself.
 */
export function useApi(opts: Parameters<typeof startApi>[0] = {}): ApiHarness {
  const h = {} as ApiHarness;
  beforeAll(async () => {
    Object.assign(h, await startApi(opts));
  }, 300_000);
  afterAll(async () => {
    await h.close?.();
  }, 120_000);
  return h;
}
