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
import { storeError } from './rows.ts';
import { type IndexChanges, provisionTables, updateIndexes } from './schema.ts';
import { type Sweeper, startSweeper, sweepExpired } from './sweeper.ts';

export interface EmbeddedStoreOptions {
  /** Number of change-feed ranges per container (config FEED_RANGES, default 4). */
  feedRanges?: number;
  observer?: StoreObserver;
  /** Background deletion of expired items every n ms; 0/undefined = off (reads hide them anyway). */
  sweepIntervalMs?: number;
  onSweepError?: (err: unknown) => void;
  /** Close the Db when the store closes (the factory owns its Db; tests own theirs). */
  ownsDb?: boolean;
  /** The containers this store holds (the app's, passed in: projections/ knows none). */
  definitions: ContainerDef[];
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
    await provisionTables(db, defs);
    await ensureLayout(
      db,
      defs.map((d) => d.name),
      ranges,
    );
  } catch (err) {
    throw storeError(err);
  }
  const containers = new Map<string, EmbeddedContainer>(
    defs.map((def, i) => [
      def.name,
      new EmbeddedContainer({
        db,
        def,
        containerNo: i + 1,
        feedRanges: ranges,
        observer: opts.observer,
      }),
    ]),
  );
  const sweeper: Sweeper | undefined = opts.sweepIntervalMs
    ? startSweeper(db, defs, opts.sweepIntervalMs, opts.onSweepError)
    : undefined;
  let closed = false;
  return {
    kind: 'embedded',
    db,
    container: (name: string): ProjectionContainer => lookupContainer(containers, name),
    definitions: () => defs,
    provision: () => provisionTables(db, defs),
    updateIndexes: async () => {
      await provisionTables(db, defs, { indexes: false }); // tables only: updateIndexes reports what it creates
      return updateIndexes(db, defs);
    },
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
      await sweeper?.stop();
      if (opts.ownsDb) await db.close();
    },
  };
}
