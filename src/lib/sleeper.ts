/**
 * A sleep that can be cut short: wake() ends the current sleep (or the next one, when
 * none is running, so a signal between two polls is not lost), close() ends every sleep
 * now and later, so stop() never waits out a poll interval. signal() serves several
 * readers at once: each passes the mark() it took before reading, and a signal sent since
 * then ends (or skips) its sleep.
 */
export class Sleeper {
  private wakers = new Set<() => void>();
  private waitingForSignal = new Set<() => void>();
  private closed = false;
  private pending = false;
  /** Bumped by every signal(). */
  private signals = 0;

  /** The current signal count: pass it to sleep() so a signal sent meanwhile is not missed. */
  mark(): number {
    return this.signals;
  }

  /**
   * Sleeps ms, or less on wake()/close() or, when `since` is given, on a signal after that
   * mark, or when `cut` is aborted (a caller's own reason to stop waiting).
   */
  sleep(ms: number, since?: number, cut?: AbortSignal): Promise<void> {
    if (since !== undefined && since !== this.signals) return Promise.resolve();
    if (cut?.aborted) return Promise.resolve();
    if (this.closed || (since === undefined && this.pending)) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        this.waitingForSignal.delete(done);
        cut?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      cut?.addEventListener('abort', done, { once: true });
      if (since === undefined) this.wakers.add(done);
      else this.waitingForSignal.add(done);
    });
  }

  /** Ends the sleep in progress, or makes the next one return at once. */
  wake(): void {
    if (this.wakers.size === 0) this.pending = true;
    for (const w of [...this.wakers]) w();
  }

  /** Ends the sleeps waiting for a signal (see mark()). */
  signal(): void {
    this.signals++;
    for (const w of [...this.waitingForSignal]) w();
  }

  /** Wakes every sleeper now and makes later sleeps return at once. */
  close(): void {
    this.closed = true;
    for (const w of [...this.wakers, ...this.waitingForSignal]) w();
  }
}
