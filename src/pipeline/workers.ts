import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ProcessorOptions } from '../changefeed/options.ts';
import {
  type ChangeFeedProcessor,
  createChangeFeedProcessor,
  type LeaseEstimate,
} from '../changefeed/processor.ts';
import { createRelay, type Relay, type RelayOptions } from '../outbox/relay.ts';
import { busyCount } from '../outbox/status.ts';
import { CONTAINERS } from '../readmodel/documents.ts';
import { createEventApplier } from './apply-event.ts';
import { createPostFanoutHandler, type FanoutOptions } from './changes/posts-fanout.ts';
import { createReactionHandler } from './changes/reactions.ts';
import type { PipelineContext } from './context.ts';

export interface PipelineWorkerOptions {
  /** Lease owner name; unique per process (default host-pid-random). */
  hostName?: string;
  relay?: Partial<Omit<RelayOptions, 'db' | 'apply'>>;
  processor?: Partial<ProcessorOptions>;
  fanout?: FanoutOptions;
}

export interface PipelineProcessors {
  /** posts_v2 → userFeed fan-out. */
  fanout: ChangeFeedProcessor;
  /** reactions → counters and notifications. */
  reactions: ChangeFeedProcessor;
}

export interface PipelineWorkers {
  readonly hostName: string;
  readonly relay: Relay;
  readonly processors: PipelineProcessors;
  start(): Promise<void>;
  /** Stops the relay (batch in flight acknowledged) and the processors (leases released). */
  stop(): Promise<void>;
  /** Lag per lease, by processor name. */
  estimate(): Promise<Record<string, LeaseEstimate[]>>;
  /**
   * Runs until nothing is pending: no due or in-flight outbox event, no change-feed lag,
   * twice in a row. For tests and tools; needs start() first.
   */
  drain(opts?: { timeoutMs?: number }): Promise<void>;
}

/** Names the change-feed consumers; lease ids are `${name}:${container}:${range}`. */
export const PROCESSOR_NAMES = { fanout: 'fanout', reactions: 'reaction-effects' } as const;

const defaultHostName = () =>
  `${hostname().replaceAll(':', '-')}-${process.pid}-${randomBytes(3).toString('hex')}`;

/**
 * Everything `asora work` runs (and `asora start` in-process): the outbox relay with the
 * event handlers, and one change-feed processor per consumer.
 */
export function createPipelineWorkers(
  ctx: PipelineContext,
  opts: PipelineWorkerOptions = {},
): PipelineWorkers {
  const hostName = opts.hostName ?? defaultHostName();
  const relay = createRelay({
    log: ctx.log,
    metrics: ctx.metrics,
    ...opts.relay,
    db: ctx.db,
    apply: createEventApplier(ctx),
  });
  const common = {
    store: ctx.store,
    hostName,
    options: opts.processor,
    log: ctx.log,
    metrics: ctx.metrics,
  };
  const fanout = createPostFanoutHandler(ctx, opts.fanout);
  const reactions = createReactionHandler(ctx);
  const processors: PipelineProcessors = {
    fanout: createChangeFeedProcessor({
      ...common,
      container: CONTAINERS.posts,
      processorName: PROCESSOR_NAMES.fanout,
      // Posts are independent: a burst fans out side by side, each post's versions in order,
      // including posts read after a batch whose fan-out is still running.
      options: { keyConcurrency: 8, batchesInFlight: 4, ...opts.processor },
      handle: async (items) => void (await fanout(items)),
    }),
    reactions: createChangeFeedProcessor({
      ...common,
      container: CONTAINERS.reactions,
      processorName: PROCESSOR_NAMES.reactions,
      handle: reactions,
    }),
  };
  const all = Object.values(processors);
  let started = false;

  async function estimate(): Promise<Record<string, LeaseEstimate[]>> {
    const out: Record<string, LeaseEstimate[]> = {};
    for (const p of all) out[p.name] = await p.estimate();
    return out;
  }

  return {
    hostName,
    relay,
    processors,
    async start() {
      if (started) return;
      started = true;
      // Processors first: their leases exist before this host's relay writes a change, so a
      // fresh install never looks like "a new processor on a non-empty container" (start from now).
      await Promise.all(all.map((p) => p.start()));
      relay.start();
    },
    async stop() {
      await Promise.all([relay.stop(), ...all.map((p) => p.stop())]);
      started = false;
    },
    estimate,
    async drain({ timeoutMs = 30_000 } = {}) {
      if (!started) throw new Error('drain() needs started workers: call start() first');
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      while (quiet < 2) {
        let moved = 0;
        for (let n = await relay.runOnce(); n > 0; n = await relay.runOnce()) moved += n;
        const busy = await busyCount(ctx.db);
        const lag = Object.values(await estimate())
          .flat()
          .reduce((s, e) => s + e.lag, 0);
        quiet = moved === 0 && busy === 0 && lag === 0 ? quiet + 1 : 0;
        if (quiet >= 2) return;
        if (Date.now() > deadline) {
          throw new Error(
            `pipeline did not drain within ${timeoutMs} ms (outbox busy ${busy}, change-feed lag ${lag})`,
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}
