import type { OutboxCounts } from '../outbox/status.ts';
import type { Metrics } from './metrics.ts';

export interface SeriesPoint {
  /** Unix seconds. */
  t: number;
  /** Outbox events this process applied per second since the previous point. */
  processedPerSecond: number;
  pending: number;
  deadLettered: number;
  /** Changes not yet handled, summed over every lease (null: no processors here). */
  changeFeedLag: number | null;
  /** Mean item-written → handled delay per monitored container since the previous point. */
  delaySeconds: Record<string, number>;
}

export interface SeriesSources {
  outbox: () => Promise<OutboxCounts>;
  /** Total change-feed lag; absent in processes that run no processors. */
  changeFeedLag?: () => Promise<number>;
}

/**
 * The ops console's charts: a point every interval over the last hour, kept in memory by
 * the process that serves the console (Grafana over /metrics is the fleet-wide view).
 */
export class OpsSeries {
  readonly points: SeriesPoint[] = [];
  private timer?: NodeJS.Timeout;
  private last?: {
    t: number;
    processed: number;
    delay: Map<string, { sum: number; count: number }>;
  };
  private sampling?: Promise<void>;

  constructor(
    private readonly metrics: Metrics,
    private readonly sources: SeriesSources,
    private readonly opts: {
      intervalMs?: number;
      windowMs?: number;
      onError?: (err: unknown) => void;
    } = {},
  ) {}

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.opts.intervalMs ?? 10_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
  }

  /** Takes one point now (also what the timer runs); one at a time. */
  sample(): Promise<void> {
    this.sampling ??= this.takePoint()
      .catch((err) => this.opts.onError?.(err))
      .finally(() => {
        this.sampling = undefined;
      });
    return this.sampling;
  }

  private async takePoint(): Promise<void> {
    const now = Date.now() / 1000;
    const [counts, lag, processedMetric, delayMetric] = await Promise.all([
      this.sources.outbox(),
      this.sources.changeFeedLag?.() ?? Promise.resolve(null),
      this.metrics.outboxProcessed.get(),
      this.metrics.changeFeedDelay.get(),
    ]);
    const processed = processedMetric.values
      .filter((v) => v.labels.outcome === 'ok')
      .reduce((n, v) => n + v.value, 0);
    // A histogram's values carry its _bucket, _sum and _count series (metricName says which).
    const delay = new Map<string, { sum: number; count: number }>();
    for (const v of delayMetric.values as {
      value: number;
      labels: Record<string, unknown>;
      metricName?: string;
    }[]) {
      const c = String(v.labels.container ?? '');
      const d = delay.get(c) ?? { sum: 0, count: 0 };
      if (v.metricName?.endsWith('_sum')) d.sum += v.value;
      else if (v.metricName?.endsWith('_count')) d.count += v.value;
      else continue;
      delay.set(c, d);
    }
    const prev = this.last;
    const delaySeconds: Record<string, number> = {};
    for (const [c, d] of delay) {
      const p = prev?.delay.get(c) ?? { sum: 0, count: 0 };
      if (d.count > p.count) delaySeconds[c] = (d.sum - p.sum) / (d.count - p.count);
    }
    const elapsed = prev ? now - prev.t : 0;
    this.points.push({
      t: Math.round(now),
      processedPerSecond:
        prev && elapsed > 0 ? Math.max(0, processed - prev.processed) / elapsed : 0,
      pending: counts.pending,
      deadLettered: counts.deadLettered,
      changeFeedLag: lag,
      delaySeconds,
    });
    this.last = { t: now, processed, delay };
    const oldest = now - (this.opts.windowMs ?? 3_600_000) / 1000;
    while (this.points.length > 0 && this.points[0]!.t < oldest) this.points.shift();
  }
}
