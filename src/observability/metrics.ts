import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { StoreObserver } from '../projections/port.ts';
import { noteStoreCall } from './request-cost.ts';

/**
 * Every Prometheus metric the platform exports (DESIGN §7), on a registry of its own so
 * tests can hold several independent instances. Gauges that mirror database state
 * (outbox counts, pool sizes) are refreshed by collectors registered at wiring time.
 */
export class Metrics {
  readonly registry = new Registry();

  // outbox
  readonly outboxPending = this.gauge(
    'asora_outbox_pending',
    'Outbox events not yet processed (including retrying)',
  );
  readonly outboxFailed = this.gauge(
    'asora_outbox_failed',
    'Pending outbox events that have failed at least once',
  );
  readonly outboxDeadLettered = this.gauge(
    'asora_outbox_dead_lettered',
    'Outbox events dead-lettered after max_retries',
  );
  readonly outboxOldestPendingAge = this.gauge(
    'asora_outbox_oldest_pending_age_seconds',
    'Age of the oldest pending outbox event',
  );
  readonly outboxLag = new Histogram({
    name: 'asora_outbox_lag_seconds',
    help: 'Time from outbox event creation to successful processing',
    labelNames: ['event_type'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly outboxProcessed = new Counter({
    name: 'asora_outbox_processed_total',
    help: 'Outbox events applied, by event type and outcome (ok, retry, dead_letter)',
    labelNames: ['event_type', 'outcome'],
    registers: [this.registry],
  });

  // change feed
  readonly changeFeedLag = new Gauge({
    name: 'asora_changefeed_estimated_lag',
    help: 'Estimated changes not yet processed, per lease',
    labelNames: ['container', 'lease'],
    registers: [this.registry],
  });
  readonly changeFeedDelay = new Histogram({
    name: 'asora_changefeed_delay_seconds',
    help: 'Time from an item being written (_ts) to its change being handled',
    labelNames: ['container', 'handler'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly changeFeedLeasesOwned = new Gauge({
    name: 'asora_changefeed_leases_owned',
    help: 'Leases owned by this process, per container',
    labelNames: ['container'],
    registers: [this.registry],
  });
  readonly changeFeedLeaseEvents = new Counter({
    name: 'asora_changefeed_lease_events_total',
    help: 'Lease acquired / released / lost / split by this process',
    labelNames: ['container', 'processor', 'event'],
    registers: [this.registry],
  });
  readonly changeFeedDeadLetters = new Counter({
    name: 'asora_changefeed_dead_letters_total',
    help: 'Changes recorded as dead letters after the batch retries ran out',
    labelNames: ['container', 'processor'],
    registers: [this.registry],
  });

  // projection store
  readonly requestCharge = new Counter({
    name: 'asora_projection_request_charge_total',
    help: 'Request units consumed, by container and operation',
    labelNames: ['container', 'operation'],
    registers: [this.registry],
  });
  readonly storeRequests = new Histogram({
    name: 'asora_projection_request_duration_seconds',
    help: 'Projection store call latency, by container and operation',
    labelNames: ['container', 'operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly throttled = new Counter({
    name: 'asora_projection_throttled_total',
    help: 'Requests throttled by the projection store (HTTP 429), by container',
    labelNames: ['container'],
    registers: [this.registry],
  });

  // PostgreSQL pools
  readonly poolConnections = new Gauge({
    name: 'asora_pg_pool_connections',
    help: 'PostgreSQL pool connections by pool (primary, replica) and state (total, idle, waiting)',
    labelNames: ['pool', 'state'],
    registers: [this.registry],
  });

  // HTTP
  readonly httpDuration = new Histogram({
    name: 'asora_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly requestSqlStatements = new Histogram({
    name: 'asora_request_sql_statements',
    help: 'SQL statements one HTTP request sent to PostgreSQL (canonical and embedded store, BEGIN/COMMIT included), by route',
    labelNames: ['method', 'route'],
    buckets: [0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64],
    registers: [this.registry],
  });
  readonly requestStoreCalls = new Histogram({
    name: 'asora_request_store_calls',
    help: 'Projection store calls one HTTP request made, by route',
    labelNames: ['method', 'route'],
    buckets: [0, 1, 2, 3, 4, 6, 8, 12, 16, 32],
    registers: [this.registry],
  });

  readonly collectorErrors = new Counter({
    name: 'asora_metrics_collector_errors_total',
    help: 'Scrape-time collectors that failed (their gauges keep the last value)',
    labelNames: ['collector'],
    registers: [this.registry],
  });

  /** Refreshers run before each scrape (database-backed gauges). */
  private readonly collectors = new Map<string, () => Promise<void>>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'asora_' });
  }

  /** Adapter hook: projection-store calls become request-charge and latency metrics. */
  readonly storeObserver: StoreObserver = {
    onRequest: (e) => {
      noteStoreCall();
      const labels = { container: e.container, operation: e.operation };
      this.requestCharge.inc(labels, e.requestCharge);
      this.storeRequests.observe(labels, e.durationMs / 1000);
      if (e.throttled) this.throttled.inc({ container: e.container });
    },
  };

  /** Registers a named refresher that runs before every scrape; replaces one of the same name. */
  addCollector(name: string, refresh: () => Promise<void>): void {
    this.collectors.set(name, refresh);
  }

  removeCollector(name: string): void {
    this.collectors.delete(name);
  }

  /** Runs every collector (failures counted, not thrown), then refreshes nothing else. */
  async collect(): Promise<void> {
    await Promise.all(
      [...this.collectors].map(async ([name, refresh]) => {
        try {
          await refresh();
        } catch {
          // A scrape must still answer when one source is down; the counter shows it.
          this.collectorErrors.inc({ collector: name });
        }
      }),
    );
  }

  /** Prometheus text exposition after refreshing the collectors. */
  async render(): Promise<string> {
    await this.collect();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }
}
