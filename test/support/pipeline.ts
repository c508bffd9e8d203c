import { buildContexts } from '../../src/composition.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { createRelay, type Relay } from '../../src/outbox/relay.ts';
import { createEventApplier } from '../../src/pipeline/apply-event.ts';
import type { PipelineContext } from '../../src/pipeline/context.ts';
import { FEED_ORDER } from '../../src/pipeline/feed-trim.ts';
import type { Doc, ProjectionStore } from '../../src/projections/port.ts';
import { CONTAINERS, type FeedItemDoc } from '../../src/readmodel/documents.ts';
import type { Db } from '../../src/sql/db.ts';

/** The pipeline's context over test stores, from the composition root: silent, its own metrics. */
export function pipelineContext(
  db: Db,
  store: ProjectionStore,
  over: Partial<PipelineContext> = {},
): PipelineContext {
  const { pipeline } = buildContexts({
    canonical: { db, readDb: db },
    store,
    tuning: { fanoutFollowerThreshold: 10_000, feedCap: 800 },
    log: silentLogger,
    metrics: new Metrics(),
  });
  return { ...pipeline, ...over };
}

/** A relay applying events with the real handlers, polling fast. */
export function relayFor(ctx: PipelineContext, opts: { workerId?: string; db?: Db } = {}): Relay {
  return createRelay({
    db: opts.db ?? ctx.db,
    apply: createEventApplier(ctx),
    workerId: opts.workerId,
    pollIntervalMs: 20,
  });
}

/** Runs the relay until nothing is due. */
export async function drain(relay: Relay): Promise<void> {
  for (let i = 0; i < 1000; i++) if ((await relay.runOnce()) === 0) return;
  throw new Error('outbox did not drain');
}

/**
 * Every live document of a container, all partitions, without system properties (and the
 * fields in `omit`), in partition-key/id order: compare projections by value.
 */
export async function dump(store: ProjectionStore, name: string, omit: string[] = []) {
  const c = store.container(name);
  const out: Doc[] = [];
  let continuation: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof c.query>> = await c.query({ limit: 500, continuation });
    for (const d of page.items)
      out.push(
        Object.fromEntries(
          Object.entries(d).filter(([k]) => !k.startsWith('_') && !omit.includes(k)),
        ) as Doc,
      );
    continuation = page.continuation;
  } while (continuation);
  return out.sort((a, b) =>
    `${c.partitionKeyOf(a)}/${a.id}`.localeCompare(`${c.partitionKeyOf(b)}/${b.id}`),
  );
}

/** All projection containers but the leases (counters without their wall-clock updatedAt). */
export async function dumpAll(store: ProjectionStore): Promise<Record<string, Doc[]>> {
  const out: Record<string, Doc[]> = {};
  for (const name of Object.values(CONTAINERS)) {
    if (name === CONTAINERS.leases) continue;
    out[name] = await dump(store, name, name === CONTAINERS.counters ? ['updatedAt'] : []);
  }
  return out;
}

/** One user's feed items, newest first (every page). */
export async function feedItems(store: ProjectionStore, recipientId: string) {
  const feed = store.container(CONTAINERS.userFeed);
  const out: FeedItemDoc[] = [];
  let continuation: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof feed.query<FeedItemDoc>>> = await feed.query<FeedItemDoc>(
      {
        partitionKey: recipientId,
        orderBy: FEED_ORDER,
        limit: 1000,
        continuation,
      },
    );
    out.push(...page.items);
    continuation = page.continuation;
  } while (continuation);
  return out;
}

/** The post ids in one user's feed, newest first. */
export const feedOf = async (store: ProjectionStore, recipientId: string) =>
  (await feedItems(store, recipientId)).map((i) => i.postId);

export async function mirrorRows(db: Db) {
  const { rows } = await db.query<{
    post_id: string;
    status: string;
    text: string;
    source_version: number;
  }>('SELECT post_id::text, status, text, source_version FROM posts_admin_mirror ORDER BY post_id');
  return rows;
}
