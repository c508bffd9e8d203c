import { dueUnclaimed, outboxCounts } from '../outbox/status.ts';
import type { Db } from '../sql/db.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import { withTimeout } from './timeout.ts';

export type ComponentState = 'up' | 'down' | 'not_configured';

export interface ComponentReport {
  status: ComponentState;
  /** How long the check took. */
  latencyMs: number;
  /** Why it is down (error message or failed bound). */
  error?: string;
  detail?: Record<string, unknown>;
}

export interface HealthReport {
  status: 'ok' | 'fail';
  checkedAt: string;
  components: Record<string, ComponentReport>;
}

/** What a check returns; throwing (or timing out) means the component is down. */
export interface CheckResult {
  status?: ComponentState;
  error?: string;
  detail?: Record<string, unknown>;
}

export type HealthCheck = () => Promise<CheckResult>;

export interface HealthOptions {
  /** Time limit per check: a hung dependency yields "down", never a hung request. */
  timeoutMs?: number;
}

/**
 * Liveness (the process answers) and readiness (every component it depends on works).
 * Checks run in parallel, each under its own timeout.
 */
export class Health {
  private readonly checks = new Map<string, HealthCheck>();
  private readonly timeoutMs: number;

  constructor(checks: Record<string, HealthCheck> = {}, opts: HealthOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    for (const [name, check] of Object.entries(checks)) this.checks.set(name, check);
  }

  /** Adds or replaces a component check (e.g. when the workers start after the API). */
  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  live(): { status: 'ok'; uptimeSeconds: number } {
    return { status: 'ok', uptimeSeconds: Math.round(process.uptime()) };
  }

  async ready(): Promise<HealthReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]): Promise<[string, ComponentReport]> => {
        const started = performance.now();
        try {
          const r = await withTimeout(check(), this.timeoutMs, name);
          const latencyMs = round(performance.now() - started);
          return [name, { status: r.status ?? 'up', latencyMs, ...pick(r) }];
        } catch (err) {
          const latencyMs = round(performance.now() - started);
          return [
            name,
            { status: 'down', latencyMs, error: err instanceof Error ? err.message : String(err) },
          ];
        }
      }),
    );
    const components = Object.fromEntries(entries);
    const ok = entries.every(([, c]) => c.status !== 'down');
    return { status: ok ? 'ok' : 'fail', checkedAt: new Date().toISOString(), components };
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
const pick = (r: CheckResult) => ({
  ...(r.error ? { error: r.error } : {}),
  ...(r.detail ? { detail: r.detail } : {}),
});

// ---------------------------------------------------------------- standard checks

/** Canonical primary answers a query. */
export const canonicalCheck =
  (db: Pick<Db, 'query'>): HealthCheck =>
  async () => {
    await db.query('SELECT 1');
    return {};
  };

/**
 * Projection store round trip. With a circuit breaker: down at once while the circuit is
 * open (no waiting on a store known to be down); once the cooldown has passed the ping is
 * the probe that closes it again.
 */
export const projectionsCheck =
  (
    store: { ping(): Promise<void>; readonly kind?: string },
    breaker?: Pick<CircuitBreaker, 'state' | 'reason'>,
  ): HealthCheck =>
  async () => {
    const kind = store.kind ? { kind: store.kind } : {};
    if (breaker?.state() === 'open') {
      return {
        status: 'down',
        error: `circuit open: ${breaker.reason()}`,
        detail: { ...kind, circuit: 'open' },
      };
    }
    await store.ping();
    if (breaker) return { detail: { ...kind, circuit: breaker.state() } };
    return store.kind ? { detail: kind } : {};
  };

/** Outbox backlog under the configured bound (pending events not yet processed). */
export const outboxBacklogCheck =
  (db: Pick<Db, 'query'>, maxBacklog: number): HealthCheck =>
  async () => {
    const c = await outboxCounts(db);
    const detail = {
      pending: c.pending,
      failed: c.failed,
      deadLettered: c.deadLettered,
      oldestPendingAgeSeconds: Math.round(c.oldestPendingAgeSeconds * 10) / 10,
      maxBacklog,
    };
    return c.pending > maxBacklog
      ? { status: 'down', error: `outbox backlog ${c.pending} exceeds ${maxBacklog}`, detail }
      : { detail };
  };

export interface RelayCheckOptions {
  /** Canonical primary: the outbox tells whether some relay is draining it. */
  db: Pick<Db, 'query'>;
  /** Down when a due, unclaimed event has waited longer than this. Default 60 s. */
  maxStallSeconds?: number;
  /** In-process relay state, when this process runs one. */
  running?: () => boolean;
}

/**
 * The relay is alive when due events get claimed: an event that has been due and
 * unclaimed for longer than maxStallSeconds means no relay is polling (or all are stuck),
 * whichever process they run in. A backlog that is being worked is the outbox check's job.
 */
export const relayCheck =
  (opts: RelayCheckOptions): HealthCheck =>
  async () => {
    const maxStallSeconds = opts.maxStallSeconds ?? 60;
    const running = opts.running?.();
    const due = await dueUnclaimed(opts.db);
    const stalled = due.oldestSeconds;
    const detail = {
      ...(running === undefined ? {} : { running }),
      dueUnclaimed: due.n,
      oldestDueSeconds: Math.round(stalled * 10) / 10,
      maxStallSeconds,
    };
    if (running === false) return { status: 'down', error: 'relay is not running', detail };
    if (stalled > maxStallSeconds) {
      return {
        status: 'down',
        error: `an outbox event has been due and unclaimed for ${detail.oldestDueSeconds} s`,
        detail,
      };
    }
    return { detail };
  };

/** What the change-feed processors expose for readiness. */
export interface ProcessorsState {
  running: boolean;
  /** Leases owned by this process, per container. */
  leasesOwned: Record<string, number>;
}

export const processorsCheck =
  (
    state: () => ProcessorsState,
    estimate?: () => Promise<{ lease: string; lag: number }[]>,
  ): HealthCheck =>
  async () => {
    const s = state();
    const detail: Record<string, unknown> = { running: s.running, leasesOwned: s.leasesOwned };
    if (estimate) {
      const lags = await estimate();
      detail.estimatedLag = lags.reduce((n, l) => n + l.lag, 0);
    }
    return s.running
      ? { detail }
      : { status: 'down', error: 'change-feed processors are not running', detail };
  };

/**
 * Replication delay of the read replica: time since the last replayed transaction.
 * Not configured when there is no separate replica. Down above maxLagSeconds.
 * (On an idle primary the replay timestamp ages too; the bound should allow for that.)
 */
export const replicaLagCheck =
  (readDb: Pick<Db, 'query'> | undefined, maxLagSeconds = 300): HealthCheck =>
  async () => {
    if (!readDb) return { status: 'not_configured' };
    const { rows } = await readDb.query<{ in_recovery: boolean; lag: number | null }>(
      `SELECT pg_is_in_recovery() AS in_recovery,
              extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS lag`,
    );
    const r = rows[0]!;
    const lagSeconds = r.in_recovery ? (r.lag ?? 0) : 0;
    const detail = {
      inRecovery: r.in_recovery,
      lagSeconds: Math.round(lagSeconds * 10) / 10,
      maxLagSeconds,
    };
    return lagSeconds > maxLagSeconds
      ? { status: 'down', error: `replica is ${detail.lagSeconds} s behind`, detail }
      : { detail };
  };
