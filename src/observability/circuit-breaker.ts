export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold?: number;
  /** How long an open circuit fails calls at once before letting probes through. */
  cooldownMs?: number;
}

/**
 * Consecutive-failure circuit breaker around a dependency. Open: calls fail at once (no
 * waiting for a timeout on a store known to be down) and readiness reports the dependency
 * down. After the cooldown calls go through again (half open); the first success closes
 * the circuit, a failure re-opens it for another cooldown.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private lastError = '';
  readonly failureThreshold: number;
  readonly cooldownMs: number;

  constructor(
    readonly name: string,
    opts: BreakerOptions = {},
  ) {
    this.failureThreshold = opts.failureThreshold ?? 3;
    this.cooldownMs = opts.cooldownMs ?? 1_000;
  }

  state(now = Date.now()): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return now - this.openedAt < this.cooldownMs ? 'open' : 'half_open';
  }

  /** Why the circuit opened (the last failure), for readiness. */
  reason(): string {
    return this.lastError;
  }

  /**
   * Runs fn unless the circuit is open. `isOutage` tells which errors count (a timeout or an
   * unreachable store does; a 404 or a precondition failure is an answer, not an outage).
   */
  async run<T>(
    fn: () => Promise<T>,
    isOutage: (err: unknown) => boolean,
    openError: () => Error,
  ): Promise<T> {
    if (this.state() === 'open') throw openError();
    try {
      const out = await fn();
      this.failures = 0;
      this.openedAt = undefined;
      return out;
    } catch (err) {
      if (isOutage(err)) this.recordFailure(err);
      else {
        this.failures = 0;
        this.openedAt = undefined;
      }
      throw err;
    }
  }

  private recordFailure(err: unknown): void {
    this.failures++;
    this.lastError = err instanceof Error ? err.message : String(err);
    if (this.openedAt !== undefined || this.failures >= this.failureThreshold)
      this.openedAt = Date.now();
  }
}
