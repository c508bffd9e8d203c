import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { forEachLimited } from '../lib/concurrency.ts';
import { Sleeper } from '../lib/sleeper.ts';
import type { Logger } from '../observability/logger.ts';
import { silentLogger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { withTimeout } from '../observability/timeout.ts';
import type { Db } from '../sql/db.ts';
import { ackEvents, claimBatch, failEvent } from './claim.ts';
import type { OutboxEvent } from './event.ts';
import { DEFAULT_BASE_BACKOFF_SECONDS, retryDelaySeconds } from './retry.ts';

export const OUTBOX_CHANNEL = 'asora_outbox';

export interface RelayOptions {
  db: Db; // canonical primary
  apply: (event: OutboxEvent) => Promise<void>;
  workerId?: string; // default `${hostname}:${pid}:${random}`
  batchSize?: number; // default 100 (50-200)
  leaseSeconds?: number; // claim lease, default 30
  pollIntervalMs?: number; // default 1000
  /** next_retry_at = now() + base * 2^retry_count (+ jitter up to 10%); default 60. */
  baseBackoffSeconds?: number;
  concurrency?: number; // events applied in parallel within a batch (distinct aggregates), default 8
  /**
   * LISTEN asora_outbox (default true): emit_event's NOTIFY wakes the relay at once. On
   * PGlite the listener is in-process (one instance: the writer is this process).
   */
  listen?: boolean;
  log?: Logger;
  metrics?: Metrics;
  /**
   * An apply still running after this long counts as failed (retried later), so one hung
   * store call cannot stall the relay; default: the lease, after which another relay may
   * take the event anyway.
   */
  applyTimeoutMs?: number;
  /** Jitter source in [0, 1) (tests pin it). */
  random?: () => number;
}

export interface Relay {
  start(): void;
  /** Stops claiming, waits for the batch in flight to be applied and acknowledged. */
  stop(): Promise<void>;
  /** One claim → apply → ack round; resolves to the number of events claimed. */
  runOnce(): Promise<number>;
}

const errorText = (err: unknown) =>
  err instanceof Error ? `${err.name}: ${err.message}` : `non-error thrown: ${String(err)}`;

/**
 * The outbox relay: claims due events in short transactions, applies them outside any
 * transaction (no row lock is held while the projection store is called), then
 * acknowledges the batch's handled events in one statement. Failures back off exponentially and
 * dead-letter after max_retries. See docs/outbox.md.
 */
export function createRelay(opts: RelayOptions): Relay {
  const db = opts.db;
  const workerId =
    opts.workerId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const batchSize = Math.max(1, opts.batchSize ?? 100);
  const leaseSeconds = opts.leaseSeconds ?? 30;
  const pollIntervalMs = opts.pollIntervalMs ?? 1000;
  const base = opts.baseBackoffSeconds ?? DEFAULT_BASE_BACKOFF_SECONDS;
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const useListen = opts.listen ?? true;
  const log = (opts.log ?? silentLogger).child({ component: 'outbox-relay', workerId });
  const metrics = opts.metrics;
  const random = opts.random ?? Math.random;
  const applyTimeoutMs = opts.applyTimeoutMs ?? leaseSeconds * 1000;

  let running = false;
  let loop: Promise<void> | null = null;
  let sleeper = new Sleeper();
  let unlisten: (() => Promise<void>) | null = null;

  const signal = () => sleeper.wake();

  /** Applies one event; true when it succeeded (to be acknowledged with its batch). */
  async function applyOne(event: OutboxEvent): Promise<boolean> {
    try {
      await withTimeout(opts.apply(event), applyTimeoutMs, `applying outbox event ${event.id}`);
      return true;
    } catch (err) {
      const message = errorText(err);
      try {
        const outcome = await failEvent(
          db,
          workerId,
          event.id,
          message,
          retryDelaySeconds(event.retryCount, base, random),
        );
        if (outcome !== 'lost')
          metrics?.outboxProcessed.inc({ event_type: event.eventType, outcome });
        const fields = {
          eventId: event.id,
          eventType: event.eventType,
          retryCount: event.retryCount + 1,
          err: message,
        };
        if (outcome === 'dead_letter') log.error(fields, 'outbox event dead-lettered');
        else log.warn(fields, 'outbox event failed; will retry');
      } catch (recordErr) {
        // The lease runs out and another claim retries it; nothing is lost.
        log.error(
          { eventId: event.id, err: errorText(recordErr) },
          'could not record outbox failure',
        );
      }
      return false;
    }
  }

  /**
   * Acknowledges the handled events of a batch in one statement. A crash before it
   * leaves them leased: they are applied again after the lease (handlers are idempotent),
   * and the next event of each aggregate waits for that, so per-aggregate order holds.
   */
  async function ackAll(done: OutboxEvent[]): Promise<void> {
    if (done.length === 0) return;
    let lags: Map<number, number>;
    try {
      lags = await ackEvents(
        db,
        workerId,
        done.map((e) => e.id),
      );
    } catch (err) {
      log.error(
        { eventIds: done.map((e) => e.id), err: errorText(err) },
        'could not acknowledge outbox events',
      );
      return;
    }
    for (const event of done) {
      const lag = lags.get(event.id);
      if (lag === undefined) {
        log.warn(
          { eventId: event.id },
          'outbox event lease lost before ack; another relay owns it',
        );
        continue;
      }
      const labels = { event_type: event.eventType };
      metrics?.outboxProcessed.inc({ ...labels, outcome: 'ok' });
      metrics?.outboxLag.observe(labels, Math.max(0, lag));
    }
  }

  async function runOnce(): Promise<number> {
    const events = await claimBatch(db, workerId, batchSize, leaseSeconds);
    if (events.length === 0) return 0;
    const done: OutboxEvent[] = [];
    await forEachLimited(events, concurrency, async (event) => {
      if (await applyOne(event)) done.push(event);
    });
    await ackAll(done);
    return events.length;
  }

  async function run(): Promise<void> {
    while (running) {
      let claimed = 0;
      try {
        claimed = await runOnce();
      } catch (err) {
        log.error({ err: errorText(err) }, 'outbox claim failed; retrying after the poll interval');
      }
      // A full batch means more is probably waiting: go again without sleeping.
      if (running && claimed < batchSize) await sleeper.sleep(pollIntervalMs);
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      sleeper = new Sleeper();
      if (useListen) {
        db.listen(OUTBOX_CHANNEL, signal).then(
          async (off) => {
            if (running) unlisten = off;
            else await off().catch(() => {});
          },
          (err: unknown) => log.warn({ err: errorText(err) }, 'LISTEN failed; polling only'),
        );
      }
      loop = run();
      log.info(
        { batchSize, leaseSeconds, pollIntervalMs, listen: useListen },
        'outbox relay started',
      );
    },
    async stop() {
      if (!running) {
        await loop;
        return;
      }
      running = false;
      sleeper.close();
      await loop;
      loop = null;
      const off = unlisten;
      unlisten = null;
      if (off)
        await off().catch((err: unknown) => log.warn({ err: errorText(err) }, 'UNLISTEN failed'));
      log.info('outbox relay stopped');
    },
    runOnce,
  };
}
