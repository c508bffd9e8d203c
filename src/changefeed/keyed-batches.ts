import pLimit, { type LimitFunction } from 'p-limit';
import type { Stored } from '../projections/port.ts';

/** A call skipped because an earlier one failed (the range is read again from its checkpoint). */
class Skipped extends Error {
  constructor() {
    super('skipped after an earlier failure in this feed range');
  }
}

/**
 * The batches of one feed range, handled with overlap. Each batch is cut by partition key
 * (one handler call per key, its items in feed order); a key's call waits for the same
 * key's calls of earlier batches, so each key's changes are applied in feed order, while a
 * key new to the range starts at once. At most `concurrency` calls run at a time across
 * all batches. After a failure no call starts any more (those running finish) until reset():
 * the caller then reads again from its last checkpoint.
 */
export class KeyedBatches {
  private readonly limit: LimitFunction;
  /** Each key's last call, while it is in flight. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly running = new Set<Promise<void>>();
  private failure: { err: unknown } | undefined;

  constructor(
    private readonly keyOf: (item: Stored) => string,
    concurrency: number,
    private readonly handle: (items: Stored[]) => Promise<void>,
  ) {
    this.limit = pLimit(concurrency);
  }

  /** Starts a batch; settles when each of its keys was handled (or skipped after a failure). */
  start(items: Stored[]): Promise<void> {
    const groups = new Map<string, Stored[]>();
    for (const item of items) {
      const key = this.keyOf(item);
      const group = groups.get(key);
      if (group) group.push(item);
      else groups.set(key, [item]);
    }
    const calls = [...groups].map(([key, group]) => {
      const run = () =>
        this.limit(() => (this.failure ? Promise.reject(new Skipped()) : this.handle(group)));
      const before = this.tails.get(key);
      // A failed earlier call of this key fails this one too, without running it.
      const call = before ? before.then(run) : run();
      this.tails.set(key, call);
      this.running.add(call);
      const settled = (err?: unknown) => {
        if (err !== undefined && !(err instanceof Skipped)) this.failure ??= { err };
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
        throw this.failure?.err ?? new Skipped();
      },
    );
  }

  /** The first failure since the last reset, if any. */
  get failed(): unknown {
    return this.failure?.err;
  }

  /** Resolves once no call is running or waiting. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** After idle(): forget the failure, so the range can be read again. */
  reset(): void {
    this.failure = undefined;
    this.tails.clear();
  }
}
