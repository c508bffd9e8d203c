import { silentLogger } from '../../../src/observability/logger.ts';
import { Metrics } from '../../../src/observability/metrics.ts';
import type { PipelineContext } from '../../../src/pipeline/context.ts';
import { FEED_ORDER } from '../../../src/pipeline/feed-trim.ts';
import type { Doc, ProjectionStore } from '../../../src/projections/port.ts';
import type { Db } from '../../../src/sql/db.ts';
import { emptyStore } from '../../changefeed/helpers.ts';
import { type ScratchDb, truncateAll } from '../../support/databases.ts';
import type { TestStore } from '../../support/projections.ts';

export function pipelineContext(
  db: Db,
  store: ProjectionStore,
  over: Partial<PipelineContext> = {},
): PipelineContext {
  return {
    db,
    readDb: db,
    store,
    fanoutFollowerThreshold: 10_000,
    feedCap: 800,
    log: silentLogger,
    metrics: new Metrics(),
    ...over,
  };
}

/** Every live document of a container without system properties, sorted by id (for comparisons). */
export async function snapshotContainer(
  store: ProjectionStore,
  name: string,
  omit: string[] = [],
): Promise<Doc[]> {
  const c = store.container(name);
  const out: Doc[] = [];
  let continuation: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof c.query>> = await c.query({ limit: 1000, continuation });
    for (const d of page.items) {
      const body: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(d))
        if (!k.startsWith('_') && !omit.includes(k)) body[k] = v;
      out.push(body as Doc);
    }
    continuation = page.continuation;
  } while (continuation);
  return out.sort((a, b) => (`${a.id}` < `${b.id}` ? -1 : 1));
}

export async function feedOf(store: ProjectionStore, recipientId: string): Promise<string[]> {
  const feed = store.container('userFeed');
  const out: string[] = [];
  let continuation: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof feed.query<{ id: string; postId: string }>>> =
      await feed.query<{
        id: string;
        postId: string;
      }>({ partitionKey: recipientId, orderBy: FEED_ORDER, limit: 1000, continuation });
    out.push(...page.items.map((i) => i.postId));
    continuation = page.continuation;
  } while (continuation);
  return out;
}

/** Empties both stores: canonical rows and every projection container. */
export async function resetStores(canon: ScratchDb, proj: TestStore): Promise<void> {
  await truncateAll(canon.db);
  await emptyStore(proj);
}
