import type { ProcessorOptions } from '../../src/changefeed/options.ts';
import type { ProjectionStore } from '../../src/projections/port.ts';

/** Short intervals so balancing, expiry and polling happen within a test's time. */
export const FAST: Partial<ProcessorOptions> = {
  leaseRenewIntervalMs: 100,
  leaseAcquireIntervalMs: 100,
  leaseExpirationIntervalMs: 1_500,
  feedPollDelayMs: 20,
  maxItemCount: 25,
  estimateIntervalMs: 0,
};

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes n small documents into posts_v2 (any container works; the processor is generic). */
export async function writeDocs(
  store: ProjectionStore,
  from: number,
  n: number,
  tag = 'v1',
): Promise<string[]> {
  const c = store.container('posts_v2');
  const ids: string[] = [];
  for (let i = from; i < from + n; i++) {
    const id = `doc-${String(i).padStart(5, '0')}`;
    await c.upsert({ id, postId: id, n: i, tag });
    ids.push(id);
  }
  return ids;
}

/**
 * Retries an assertion block until it passes. On a shared PostgreSQL server the embedded
 * change feed can briefly hide committed changes while another database's transaction is
 * open (its visibility horizon is cluster-wide), so "after drain" checks allow for that.
 */
export async function eventually(fn: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
