import pLimit, { type LimitFunction } from 'p-limit';
import type { Stored } from '../projections/port.ts';

/** A call not run: an earlier batch of the range failed, or the range was given up. */
class Skipped extends Error {
  constructor() {
    super('skipped: an earlier batch of this feed range failed, or the range was given up');
  }
}

/**
 * The batches of one feed range, handled with overlap. Each batch is cut by partition key
 * (one handler call per key, its items in feed order); a key's call waits for the same
 * key's calls of earlier batches, so each key's changes are applied in feed order, while a
 * key new to the range starts at once. At most `concurrency` calls run at a time across
 * all batches. When a batch fails, no call of it or of a later batch starts any more (those
 * running finish); earlier batches go on, so the caller can checkpoint them and then read
 * again from the failed one. abort() stops every call that has not started.
 */
export class KeyedBatches {
  private readonly limit: LimitFunction;
  /** Each key's last call, while it is in flight. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly running = new Set<Promise<void>>();
  private next = 0;
  /** The earliest failed batch (calls of it and of later ones are skipped), and its error. */
  private failedAt = Number.POSITIVE_INFINITY;
  private error: unknown;

  constructor(
    private readonly keyOf: (item: Stored) => string,
    concurrency: number,
    private readonly handle: (items: Stored[]) => Promise<void>,
  ) {
    this.limit = pLimit(concurrency);
  }

  /** Starts the next batch; settles when each of its keys was handled, or with the failure. */
  start(items: Stored[]): Promise<void> {
    const seq = this.next++;
    const groups = new Map<string, Stored[]>();
    for (const item of items) {
      const key = this.keyOf(item);
      const group = groups.get(key);
      if (group) group.push(item);
      else groups.set(key, [item]);
    }
    const calls = [...groups].map(([key, group]) => {
      const run = () =>
        this.limit(() =>
          seq >= this.failedAt ? Promise.reject(new Skipped()) : this.handle(group),
        );
      const before = this.tails.get(key);
      // A failed earlier call of this key fails this one too, without running it.
      const call = before ? before.then(run) : run();
      this.tails.set(key, call);
      this.running.add(call);
      const settled = (err?: unknown) => {
        if (err !== undefined && !(err instanceof Skipped) && seq < this.failedAt) {
          this.failedAt = seq;
          this.error = err;
        }
        if (this.tails.get(key) === call) this.tails.delete(key);
        this.running.delete(call);
      };
      call.then(
        () => settled(),
        (err: unknown) => settled(err ?? new Error('change handler failed')),
      );
      return call;
    });
    return Promise.all(calls).then(
      () => undefined,
      () => {
        throw this.error ?? new Skipped();
      },
    );
  }

  /** The failure of the earliest failed batch since the last reset, if any. */
  get failed(): unknown {
    return this.error;
  }

  /** No call that has not started will run (a halted worker, a lost lease). */
  abort(): void {
    this.failedAt = Number.NEGATIVE_INFINITY;
  }

  /** Resolves once no call is running or waiting. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** After idle(): forget the failure, so the range can be read again. */
  reset(): void {
    this.failedAt = Number.POSITIVE_INFINITY;
    this.error = undefined;
    this.tails.clear();
  }
}
