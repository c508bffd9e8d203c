import { Sleeper } from '../lib/sleeper.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import {
  type ChangePage,
  type FeedRange,
  isProjectionError,
  type ProjectionContainer,
  type ProjectionStore,
  type Stored,
} from '../projections/port.ts';
import { leasesToAcquire } from './balancer.ts';
import { recordDeadLetter } from './dead-letter.ts';
import { estimateLeaseLag } from './estimator.ts';
import { KeyedBatches } from './keyed-batches.ts';
import { isAvailable, type LeaseDoc, leaseBody } from './lease.ts';
import { ensureLeases, type StartFrom } from './lease-store.ts';
import { type ProcessorOptions, resolveProcessorOptions } from './options.ts';
import { splitLease } from './split.ts';

export type ChangeHandler = (items: Stored[], lease: { id: string }) => Promise<void>;

export interface ChangeFeedProcessorConfig {
  store: ProjectionStore;
  /** The monitored container. */
  container: string;
  /** Names the consumer; leases are per (processorName, container, feed range). */
  processorName: string;
  /** Unique per process: the lease owner name. */
  hostName: string;
  handle: ChangeHandler;
  options?: Partial<ProcessorOptions>;
  log: Logger;
  metrics?: Metrics;
  /**
   * Where a processor without any lease starts. Default: from now when the container
   * already holds changes (history is the backfill command's job), else the beginning.
   */
  startFrom?: StartFrom;
  /** Called as this host acquires, releases or loses a lease (after the metrics). */
  hooks?: LeaseHooks;
}

export interface LeaseHooks {
  onAcquired?(leaseId: string): void;
  onReleased?(leaseId: string): void;
  onLost?(leaseId: string, why: string): void;
}

export interface LeaseEstimate {
  leaseId: string;
  /** Live owner, or null when the lease is free or expired. */
  owner: string | null;
  /** Changes after the lease's checkpoint (capped at estimateMaxItems). */
  lag: number;
}

export interface ChangeFeedProcessor {
  readonly name: string;
  readonly container: string;
  /** Creates missing leases, runs a first balancing round, then keeps running in the background. */
  start(): Promise<void>;
  /** Finishes the batches in flight (handled and checkpointed), then releases every lease. */
  stop(): Promise<void>;
  /**
   * Stops at once as a killed process would: no further handler call, checkpoint, renewal
   * or release. Its leases stay owned until they expire. For crash tests and fatal errors.
   */
  halt(): void;
  estimate(): Promise<LeaseEstimate[]>;
  ownedLeases(): string[];
  isRunning(): boolean;
}

interface Owned {
  range: FeedRange;
  lease: Stored<LeaseDoc>;
  lost: boolean;
  /** Lease writes of one host are serialised so renewals never race checkpoints. */
  chain: Promise<unknown>;
  worker?: Promise<void>;
  /** Stops the handler calls of this range that have not started (halted, or lost). */
  abort?: () => void;
}

/** A checkpoint write failed (the lease store, not the batch): read again, no attempt counted. */
class CheckpointFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('checkpoint write failed');
  }
}

type WriteOutcome = 'ok' | 'lost';

/**
 * A change-feed processor with the .NET SDK's model (the JavaScript SDK has none): one
 * lease document per feed range in the lease container, every lease write an
 * etag-conditional replace, equal balancing across hosts, a checkpoint after every
 * batch (at-least-once delivery) and an estimator of the lag per lease.
 */
export function createChangeFeedProcessor(cfg: ChangeFeedProcessorConfig): ChangeFeedProcessor {
  const opts = resolveProcessorOptions(cfg.options);
  for (const [k, v] of Object.entries({
    container: cfg.container,
    processorName: cfg.processorName,
    hostName: cfg.hostName,
  })) {
    if (typeof v !== 'string' || v.trim() === '' || v.includes(':')) {
      throw new RangeError(
        `change-feed processor ${k} must be a non-empty string without ':' (got ${JSON.stringify(v)})`,
      );
    }
  }
  const { store, hostName: me, processorName } = cfg;
  const monitored: ProjectionContainer = store.container(cfg.container);
  const leases: ProjectionContainer = store.container(opts.leaseContainer);
  const log = cfg.log.child({
    component: 'changefeed',
    processor: processorName,
    container: cfg.container,
    host: me,
  });
  const metricLabels = { container: cfg.container };
  const owned = new Map<string, Owned>();
  const sleeper = new Sleeper();
  let running = false;
  let stopping = false;
  let halted = false;
  let loops: Promise<void>[] = [];
  /** Every range worker still running, the lost ones' included (stop() waits for them all). */
  const workers = new Set<Promise<void>>();
  let unsubscribe: (() => void) | undefined;

  function stamp(body: LeaseDoc, owner: string | null): LeaseDoc {
    const now = Date.now();
    return {
      ...body,
      owner,
      timestamp: new Date(now).toISOString(),
      expiresAt: new Date(now + opts.leaseExpirationIntervalMs).toISOString(),
    };
  }

  function leaseEvent(event: 'acquired' | 'released' | 'lost' | 'split', id: string, why = '') {
    cfg.metrics?.changeFeedLeaseEvents.inc({ ...metricLabels, processor: processorName, event });
    try {
      if (event === 'acquired') cfg.hooks?.onAcquired?.(id);
      else if (event === 'released') cfg.hooks?.onReleased?.(id);
      else if (event === 'lost') cfg.hooks?.onLost?.(id, why);
    } catch (err) {
      log.warn({ err, lease: id }, `lease ${event} hook failed`);
    }
  }

  /** Where a new lease starts (see ChangeFeedProcessorConfig.startFrom). */
  async function startPoint(
    isNew: boolean,
    range: FeedRange,
  ): Promise<{ continuation: string | null; startTime?: string }> {
    const from = cfg.startFrom;
    if (from instanceof Date) return { continuation: null, startTime: from.toISOString() };
    if (from === 'beginning' || (from === undefined && !isNew)) return { continuation: null };
    if (from === undefined) {
      if ((await monitored.query({ limit: 1 })).items.length === 0) return { continuation: null };
      log.warn(
        'new processor on a non-empty container: starting from now (`asora changefeed backfill` replays history)',
      );
    }
    // 'now' is a position, not a time: the store's token for "after everything so far".
    const page = await monitored.readChanges(range, null, 1, { startTime: 'now' });
    return { continuation: page.continuation };
  }

  /** Every lease the processor has, plus new ones for ranges none covers (idempotent across hosts). */
  const loadLeases = () => ensureLeases(leases, monitored, processorName, startPoint);

  /** One conditional write of an owned lease, queued behind the host's other writes to it. */
  function writeOwned(o: Owned, change: (body: LeaseDoc) => LeaseDoc): Promise<WriteOutcome> {
    const run = async (): Promise<WriteOutcome> => {
      if (o.lost || halted) return 'lost';
      try {
        const next = change(leaseBody(o.lease));
        o.lease = (await leases.upsert(next, { ifMatch: o.lease._etag })).resource;
        return 'ok';
      } catch (err) {
        // Someone else wrote the lease (took or stole it): it is no longer ours.
        if (isProjectionError(err, 'precondition_failed') || isProjectionError(err, 'not_found')) {
          markLost(o, 'lease changed by another host');
          return 'lost';
        }
        throw err;
      }
    };
    const p = o.chain.then(run, run);
    o.chain = p.catch(() => undefined);
    return p;
  }

  function markLost(o: Owned, why: string): void {
    if (o.lost) return;
    o.lost = true;
    o.abort?.();
    owned.delete(o.lease.id);
    cfg.metrics?.changeFeedLeasesOwned.dec(metricLabels);
    log.info({ lease: o.lease.id, why }, 'lease lost');
    leaseEvent('lost', o.lease.id, why);
  }

  async function acquire(range: FeedRange, lease: Stored<LeaseDoc>): Promise<void> {
    if (owned.has(lease.id) || stopping) return;
    let took: Stored<LeaseDoc>;
    try {
      // The range's bounds go into the lease (leases written before bounds only had the id).
      const body = { ...leaseBody(lease), min: range.min, max: range.max };
      took = (await leases.upsert(stamp(body, me), { ifMatch: lease._etag })).resource;
    } catch (err) {
      if (isProjectionError(err, 'precondition_failed') || isProjectionError(err, 'not_found'))
        return; // lost the race
      throw err;
    }
    if (halted) return; // a killed host never wrote again: the lease expires
    if (stopping) {
      // Taken while shutting down: hand it straight back.
      await leases
        .upsert({ ...leaseBody(took), owner: null }, { ifMatch: took._etag })
        .catch(() => undefined);
      return;
    }
    const o: Owned = { range, lease: took, lost: false, chain: Promise.resolve() };
    owned.set(took.id, o);
    cfg.metrics?.changeFeedLeasesOwned.inc(metricLabels);
    log.info({ lease: took.id, from: lease.owner }, 'lease acquired');
    leaseEvent('acquired', took.id);
    const worker = work(o);
    o.worker = worker;
    workers.add(worker);
    void worker.finally(() => workers.delete(worker));
  }

  async function balanceOnce(): Promise<void> {
    const all = await loadLeases();
    if (halted || stopping) return;
    const now = Date.now();
    // Our view against the store: a lease someone else now holds is lost to us.
    for (const { lease } of all) {
      const o = owned.get(lease.id);
      if (o && lease.owner !== me) markLost(o, `now owned by ${lease.owner ?? 'nobody'}`);
    }
    // A lease the store says is ours but we are not running (we restarted under the same name).
    const orphans = all.filter(
      ({ lease }) => lease.owner === me && !owned.has(lease.id) && !isAvailable(lease, now),
    );
    const byId = new Map(all.map((x) => [x.lease.id, x]));
    const wanted = [
      ...orphans.map((x) => x.lease),
      ...leasesToAcquire(
        all.map((x) => x.lease),
        me,
        now,
      ).filter((l) => !owned.has(l.id)),
    ];
    for (const l of wanted) {
      const x = byId.get(l.id)!;
      await acquire(x.range, x.lease);
    }
  }

  async function renewOnce(): Promise<void> {
    await Promise.all(
      [...owned.values()].map(async (o) => {
        try {
          await writeOwned(o, (b) => stamp(b, me));
        } catch (err) {
          log.warn({ err, lease: o.lease.id }, 'lease renewal failed; will retry');
        }
      }),
    );
  }

  /** A batch read and handed to the handler, not yet checkpointed. */
  interface Batch {
    items: Stored[];
    /** The read position after it: the checkpoint once it (and every batch before it) is handled. */
    next: string | null;
    done: Promise<void>;
    finished: boolean;
    /** Handled change by change after repeated failures: nothing else runs beside it. */
    isolated: boolean;
  }

  /**
   * Reads one feed range and checkpoints it, at-least-once. With keyConcurrency 1 each batch
   * is one handler call in feed order, checkpointed before the next read. With keyConcurrency
   * > 1 a batch is cut by partition key (KeyedBatches), and with batchesInFlight > 1 the
   * next batches are read and started while earlier ones are handled: a burst arriving in
   * several reads fans out side by side instead of waiting behind the first batch. Each key
   * keeps its feed order, and checkpoints advance in feed order, only past batches handled
   * whole; after any failure every batch in flight settles and the range is read again from
   * its last checkpoint (the handlers are idempotent).
   */
  async function work(o: Owned): Promise<void> {
    // In memory: where the last read ended (an empty read moves it too; only batches checkpoint).
    let continuation = o.lease.continuation;
    let attempts = 0; // failed attempts since the checkpoint last moved
    // A store that reports `pending` (committed changes behind its horizon) is read again
    // soon while they wait: 5, 10, 20, 40 ms, then every 50 ms. One that cannot tell: after
    // a write signal found nothing, look again at 10, 40, 160, 640 ms, then every second
    // for up to 30 s, before falling back to the poll delay.
    let recheckMs = 0;
    let recheckUntil = 0;
    let pendingMs = 0;
    const lease = { id: o.lease.id };
    const keyed =
      opts.keyConcurrency > 1
        ? new KeyedBatches(
            (item) => monitored.partitionKeyOf(item),
            opts.keyConcurrency,
            (items) => cfg.handle(items, lease),
          )
        : undefined;
    o.abort = () => keyed?.abort();
    const queue: Batch[] = [];
    /** Ends the current pause early: a batch finished, so a checkpoint may be due. */
    let cutPause: AbortController | undefined;

    const launch = (items: Stored[], next: string | null, run: () => Promise<void>) => {
      const isolated = attempts + 1 >= opts.maxBatchAttempts;
      const b: Batch = {
        items,
        next,
        done: Promise.resolve().then(run),
        finished: false,
        isolated,
      };
      const finish = () => {
        b.finished = true;
        cutPause?.abort();
      };
      b.done.then(finish, finish);
      queue.push(b);
    };

    /**
     * Checkpoints the handled batches at the head of the queue, in feed order, waiting for
     * the head while more than `keep` batches are queued. Throws a batch's failure.
     */
    const settle = async (keep: number): Promise<WriteOutcome> => {
      while (queue.length > 0 && (queue.length > keep || queue[0]!.finished)) {
        const head = queue[0]!;
        await head.done;
        attempts = 0;
        if (halted) return 'lost'; // killed between handling and checkpoint: redelivered later
        observeDelay(head.items);
        const next = head.next;
        let outcome: WriteOutcome;
        try {
          outcome = await writeOwned(o, (b) => ({ ...stamp(b, me), continuation: next }));
        } catch (err) {
          throw new CheckpointFailed(err);
        }
        if (outcome === 'lost') return 'lost'; // the new owner re-reads from the last checkpoint
        queue.shift();
      }
      return 'ok';
    };

    /** Every batch in flight settled: no handler call of this range is left running. */
    const quiesce = async () => {
      await Promise.allSettled(queue.map((b) => b.done));
      await keyed?.idle();
    };

    /**
     * A batch (or a checkpoint write) failed: let the rest settle, then read again from the
     * last checkpoint. Only a batch's failure counts as an attempt at it.
     */
    const failed = async (err: unknown) => {
      await quiesce();
      queue.length = 0;
      if (halted || o.lost) return; // the new owner reads again from the last checkpoint
      if (err instanceof CheckpointFailed) {
        log.warn(
          { err: err.cause, lease: o.lease.id },
          'checkpoint failed; reading again from the last one',
        );
      } else {
        attempts++;
        log.error(
          { err: keyed?.failed ?? err, lease: o.lease.id, attempt: attempts },
          'change batch failed; retrying from the last checkpoint',
        );
      }
      keyed?.reset();
      continuation = o.lease.continuation;
      await sleeper.sleep(opts.feedPollDelayMs);
    };

    /** Waits ms (or for a write signal since `mark`), or less when a batch in flight finishes. */
    const pause = async (ms: number, mark: number) => {
      if (queue[0]?.finished) return; // a checkpoint is due now
      cutPause = new AbortController();
      try {
        await sleeper.sleep(ms, mark, cutPause.signal);
      } finally {
        cutPause = undefined;
      }
    };

    while (!o.lost && !stopping && !halted) {
      try {
        const keep = queue.some((b) => b.isolated) ? 0 : opts.batchesInFlight - 1;
        if ((await settle(keep)) === 'lost') break;
      } catch (err) {
        await failed(err);
        continue;
      }
      let page: ChangePage;
      let mark: number;
      try {
        const startTime =
          o.lease.startTime && !continuation ? new Date(o.lease.startTime) : undefined;
        mark = sleeper.mark();
        page = await monitored.readChanges(o.range, continuation, opts.maxItemCount, { startTime });
      } catch (err) {
        if (halted) return;
        if (isProjectionError(err, 'gone')) {
          // Split: the batches read so far are handled and checkpointed before the hand-over.
          try {
            if ((await settle(0)) === 'lost') break;
          } catch (failure) {
            await failed(failure);
            continue;
          }
          return handOver(o);
        }
        log.warn({ err, lease: o.lease.id }, 'change-feed read failed; retrying');
        await sleeper.sleep(opts.feedPollDelayMs);
        continue;
      }
      if (o.lost || stopping || halted) break;
      if (page.items.length === 0) {
        continuation = page.continuation;
        if (page.pending !== undefined) {
          pendingMs = page.pending ? Math.min(Math.max(pendingMs * 2, 5), 50) : 0;
          await pause(Math.min(pendingMs || opts.feedPollDelayMs, opts.feedPollDelayMs), mark);
          continue;
        }
        await pause(Math.min(recheckMs || opts.feedPollDelayMs, opts.feedPollDelayMs), mark);
        if (sleeper.mark() !== mark) {
          recheckMs = 10;
          recheckUntil = Date.now() + 30_000;
        } else {
          recheckMs =
            recheckMs > 0 && Date.now() < recheckUntil ? Math.min(recheckMs * 4, 1_000) : 0;
        }
        continue;
      }
      recheckMs = 0;
      pendingMs = 0;
      const items = page.items;
      if (attempts + 1 >= opts.maxBatchAttempts) {
        // Failed maxBatchAttempts - 1 times (the queue is empty since): this batch alone, each
        // change on its own, checkpointed before anything more is read.
        const attempt = attempts + 1;
        launch(items, page.continuation, () => isolatePoison(o, items, attempt));
      } else if (keyed) {
        launch(items, page.continuation, () => keyed.start(items));
      } else {
        launch(items, page.continuation, () => cfg.handle(items, lease));
      }
      continuation = page.continuation;
    }
    if (halted) return;
    // Stopping: the batches in flight are handled and checkpointed. Lost: they only settle.
    if (stopping && !o.lost) {
      try {
        await settle(0);
      } catch (err) {
        log.warn({ err, lease: o.lease.id }, 'change batch failed while stopping; it comes again');
      }
    }
    await quiesce();
  }

  /**
   * The batch failed maxBatchAttempts times: handle its changes one at a time, record each
   * one that still fails as a dead letter, and let the range move on. Changes handled
   * before are handled again (handlers are idempotent).
   */
  async function isolatePoison(o: Owned, items: Stored[], attempts: number): Promise<void> {
    for (const item of items) {
      if (halted || o.lost) return;
      try {
        await cfg.handle([item], { id: o.lease.id });
      } catch (error) {
        await recordDeadLetter(leases, monitored, {
          processorName,
          leaseId: o.lease.id,
          item,
          error,
          attempts,
        });
        cfg.metrics?.changeFeedDeadLetters.inc({ ...metricLabels, processor: processorName });
        log.error(
          { err: error, lease: o.lease.id, item: item.id },
          'change recorded as a dead letter',
        );
      }
    }
  }

  /** The range was split: the lease becomes its children's (split.ts); this worker ends. */
  async function handOver(o: Owned): Promise<void> {
    try {
      await o.chain; // the last checkpoint is written
      if (o.lost || halted) return;
      const children = await splitLease(leases, monitored, o.lease);
      if (children.length === 0) return void (await sleeper.sleep(opts.feedPollDelayMs));
      log.info({ lease: o.lease.id, children: children.map((c) => c.id) }, 'lease split');
      cfg.metrics?.changeFeedLag.remove({ container: cfg.container, lease: o.lease.id });
      leaseEvent('split', o.lease.id);
    } catch (err) {
      log.warn({ err, lease: o.lease.id }, 'lease split failed; will retry');
      await sleeper.sleep(opts.feedPollDelayMs);
    } finally {
      // Either way the next balancing round decides who reads what now.
      if (!o.lost) {
        o.lost = true;
        owned.delete(o.lease.id);
        cfg.metrics?.changeFeedLeasesOwned.dec(metricLabels);
      }
    }
  }

  function observeDelay(items: Stored[]): void {
    if (!cfg.metrics) return;
    const now = Date.now() / 1000;
    for (const item of items) {
      if (typeof item._ts === 'number') {
        cfg.metrics.changeFeedDelay.observe(
          { container: cfg.container, handler: processorName },
          Math.max(0, now - item._ts),
        );
      }
    }
  }

  async function loop(intervalMs: number, what: string, fn: () => Promise<void>): Promise<void> {
    while (!stopping && !halted) {
      await sleeper.sleep(intervalMs);
      if (stopping || halted) return;
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, `${what} failed; will retry`);
      }
    }
  }

  async function estimate(): Promise<LeaseEstimate[]> {
    const all = await loadLeases();
    const now = Date.now();
    const out: LeaseEstimate[] = [];
    for (const { range, lease } of all) {
      const lag = await estimateLeaseLag(
        monitored,
        range,
        lease.continuation,
        lease.startTime ? new Date(lease.startTime) : undefined,
        opts.estimateMaxItems,
      );
      cfg.metrics?.changeFeedLag.set({ container: cfg.container, lease: lease.id }, lag);
      out.push({ leaseId: lease.id, owner: isAvailable(lease, now) ? null : lease.owner, lag });
    }
    return out;
  }

  return {
    name: processorName,
    container: cfg.container,
    async start() {
      if (running) return;
      if (stopping || halted)
        throw new Error('a stopped change-feed processor cannot be restarted; create a new one');
      running = true;
      // Writes in this process (or, on a server, announced by NOTIFY) end the poll wait.
      unsubscribe = monitored.onChange?.(() => sleeper.signal());
      try {
        await balanceOnce();
      } catch (err) {
        log.warn({ err }, 'first lease round failed; will retry');
      }
      loops = [
        loop(opts.leaseAcquireIntervalMs, 'lease balancing', balanceOnce),
        loop(opts.leaseRenewIntervalMs, 'lease renewal', renewOnce),
      ];
      if (opts.estimateIntervalMs > 0) {
        loops.push(
          loop(opts.estimateIntervalMs, 'lag estimation', async () => void (await estimate())),
        );
      }
    },
    async stop() {
      if (stopping) {
        await Promise.all(loops);
        return;
      }
      stopping = true;
      unsubscribe?.();
      sleeper.close();
      await Promise.all(loops);
      // The lost ranges' workers too: their handler calls in flight end first.
      await Promise.all([...workers]);
      // Release (owner cleared) so other hosts take the ranges at their next round, not after expiry.
      await Promise.all(
        [...owned.values()].map(async (o) => {
          try {
            const outcome = await writeOwned(o, (b) => ({
              ...b,
              owner: null,
              timestamp: new Date().toISOString(),
            }));
            if (outcome === 'ok') {
              owned.delete(o.lease.id);
              cfg.metrics?.changeFeedLeasesOwned.dec(metricLabels);
              log.info({ lease: o.lease.id }, 'lease released');
              leaseEvent('released', o.lease.id);
            }
          } catch (err) {
            log.warn({ err, lease: o.lease.id }, 'lease release failed; it will expire');
          }
        }),
      );
      for (const o of owned.values()) markLost(o, 'stopped');
      running = false;
    },
    halt() {
      halted = true;
      stopping = true;
      running = false;
      unsubscribe?.();
      sleeper.close();
      for (const o of [...owned.values()]) markLost(o, 'halted');
    },
    estimate,
    ownedLeases: () => [...owned.keys()].sort(),
    isRunning: () => running,
  };
}
