import type { Db } from '../../sql/db.ts';
import type {
  ContainerDef,
  FeedRange,
  ProjectionContainer,
  ProjectionStore,
  StoreObserver,
} from '../port.ts';
import { ProjectionError } from '../port.ts';
import { lookupContainer } from '../registry.ts';
import { EmbeddedContainer } from './container.ts';
import { ensureLayout, mergeRanges, splitRange } from './feed-layout.ts';
import { buildIndexesLive } from './index-builds.ts';
import { storeError } from './rows.ts';
import {
  CHANGE_CHANNEL,
  type IndexChanges,
  provisionTables,
  tableName,
  updateIndexes,
} from './schema.ts';
import { type Sweeper, startSweeper, sweepExpired } from './sweeper.ts';

export interface EmbeddedStoreOptions {
  /** Number of change-feed ranges per container (config FEED_RANGES, default 4). */
  feedRanges?: number;
  /**
   * Re-cut a layout of another number of ranges into `feedRanges` equal ones (a start of the
   * change-feed processors). Default: a container without a layout gets `feedRanges`, any
   * other layout (a live split, say) is kept.
   */
  recutFeedRanges?: boolean;
  observer?: StoreObserver;
  /** Background deletion of expired items every n ms; 0/undefined = off (reads hide them anyway). */
  sweepIntervalMs?: number;
  onSweepError?: (err: unknown) => void;
  /** LISTEN for other processes' writes failed: their changes are picked up by polling. */
  onListenError?: (err: unknown) => void;
  /**
   * On a server, build the composite indexes missing on tables with rows in the background
   * once the store is open (default true; a CLI runbook that reports them passes false).
   */
  buildIndexesAtStart?: boolean;
  /** A background build finished (only when it built something), or failed. */
  onIndexesBuilt?: (changes: IndexChanges) => void;
  onIndexBuildError?: (err: unknown) => void;
  /**
   * A start that found another process building looks again this often (ms, default 60 s),
   * until nothing is left to build: that process may stop before it finishes.
   */
  indexRetryMs?: number;
  /** Close the Db when the store closes (the factory owns its Db; tests own theirs). */
  ownsDb?: boolean;
  /** The containers this store holds (the app's, passed in: projections/ knows none). */
  definitions: ContainerDef[];
  /**
   * Keep the tables in this schema (created when missing), e.g. beside canonical tables in
   * one database; the Db's search_path must include it. Default: the current schema.
   */
  schema?: string;
}

export interface EmbeddedProjectionStore extends ProjectionStore {
  readonly kind: 'embedded';
  readonly db: Db;
  /** Deletes expired items now; returns how many. */
  sweepExpired(): Promise<number>;
  /** Makes the composite indexes exactly the declared ones. */
  updateIndexes(): Promise<IndexChanges>;
  /** Splits one feed range of a container in two, live (as Cosmos DB splits a partition). */
  splitFeedRange(container: string, rangeId: string): Promise<FeedRange[]>;
  /** Merges two adjacent feed ranges of a container, live. */
  mergeFeedRanges(container: string, a: string, b: string): Promise<FeedRange>;
}

/** The embedded projection store on a Db (PGlite or a PostgreSQL server); provisions its tables. */
export async function createEmbeddedStore(
  db: Db,
  opts: EmbeddedStoreOptions,
): Promise<EmbeddedProjectionStore> {
  const defs = opts.definitions;
  const ranges = opts.feedRanges ?? 4;
  if (!Number.isInteger(ranges) || ranges < 1)
    throw new ProjectionError('bad_request', 'feedRanges must be a positive integer');
  try {
    await provisionTables(db, defs, { schema: opts.schema });
    await ensureLayout(
      db,
      defs.map((d) => d.name),
      ranges,
      opts.recutFeedRanges ?? false,
    );
  } catch (err) {
    throw storeError(err);
  }
  let closed = false;
  // Writers in other processes announce commits with NOTIFY (a server only): one LISTEN
  // connection per store, opened when the first change-feed reader subscribes.
  let unlisten: Promise<(() => Promise<void>) | undefined> | undefined;
  const listen = () => {
    if (db.engine !== 'pg' || unlisten || closed) return;
    unlisten = db
      .listen(CHANGE_CHANNEL, (table) => byTable.get(table)?.notifyChange())
      .catch((err: unknown) => {
        opts.onListenError?.(err);
        return undefined;
      });
  };
  const containers = new Map<string, EmbeddedContainer>(
    defs.map((def, i) => [
      def.name,
      new EmbeddedContainer({
        db,
        def,
        containerNo: i + 1,
        feedRanges: ranges,
        observer: opts.observer,
        onFirstListener: listen,
      }),
    ]),
  );
  const byTable = new Map([...containers.values()].map((c) => [tableName(c.def), c]));
  // A server: composite indexes missing on tables with rows (a new one in containers.json, one
  // a build left invalid) are built beside traffic, without holding up the start.
  const stopBuild = new AbortController();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stopBuild.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stopBuild.signal.addEventListener('abort', done, { once: true });
    });
  const buildInBackground = async (): Promise<void> => {
    try {
      for (;;) {
        const changes = await buildIndexesLive(db, defs, {
          schema: opts.schema,
          dropStale: false,
          wait: false,
          signal: stopBuild.signal,
        });
        if (changes.created.length > 0) opts.onIndexesBuilt?.(changes);
        if (!changes.busy) return;
        await pause(opts.indexRetryMs ?? 60_000);
        if (stopBuild.signal.aborted) return;
      }
    } catch (err) {
      if (stopBuild.signal.aborted) return;
      try {
        opts.onIndexBuildError?.(err);
      } catch {
        // A failing logger must not fail close().
      }
    }
  };
  let building: Promise<void> | undefined =
    db.engine === 'pg' && opts.buildIndexesAtStart !== false ? buildInBackground() : undefined;
  /** Index work of a runbook: after the start's background build, if one runs. */
  const runbook = async <T>(fn: () => Promise<T>): Promise<T> => {
    await building;
    building = undefined;
    try {
      return await fn();
    } catch (err) {
      throw storeError(err);
    }
  };
  const sweeper: Sweeper | undefined = opts.sweepIntervalMs
    ? startSweeper(db, defs, opts.sweepIntervalMs, opts.onSweepError)
    : undefined;
  return {
    kind: 'embedded',
    db,
    container: (name: string): ProjectionContainer => lookupContainer(containers, name),
    definitions: () => defs,
    provision: () =>
      runbook(async () => {
        await provisionTables(db, defs, { schema: opts.schema });
        if (db.engine === 'pg')
          await buildIndexesLive(db, defs, { schema: opts.schema, dropStale: false, wait: true });
      }),
    updateIndexes: () =>
      runbook(async () => {
        // Tables only: the index step reports what it creates.
        await provisionTables(db, defs, { indexes: false, schema: opts.schema });
        return db.engine === 'pg'
          ? buildIndexesLive(db, defs, { schema: opts.schema, dropStale: true, wait: true })
          : updateIndexes(db, defs, opts.schema);
      }),
    sweepExpired: () => sweepExpired(db, defs),
    async splitFeedRange(container, rangeId) {
      lookupContainer(containers, container);
      try {
        return await splitRange(db, container, rangeId);
      } catch (err) {
        throw storeError(err);
      }
    },
    async mergeFeedRanges(container, a, b) {
      lookupContainer(containers, container);
      try {
        return await mergeRanges(db, container, a, b);
      } catch (err) {
        throw storeError(err);
      }
    },
    async ping() {
      try {
        await db.query('SELECT 1');
      } catch (err) {
        throw new ProjectionError('unavailable', 'embedded projection store is unreachable', err);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      stopBuild.abort(); // its index stays invalid: the next start builds it again
      await building;
      await sweeper?.stop();
      const off = await unlisten;
      await off?.().catch(() => undefined);
      if (opts.ownsDb) await db.close();
    },
  };
}
