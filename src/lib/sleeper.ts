/**
 * A sleep that can be cut short: wake() ends the current sleep (or the next one, when
 * none is running, so a signal between two polls is not lost), close() ends every sleep
 * now and later, so stop() never waits out a poll interval.
 */
export class Sleeper {
  private wakers = new Set<() => void>();
  private closed = false;
  private pending = false;

  sleep(ms: number): Promise<void> {
    if (this.closed || this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  /** Ends the sleep in progress, or makes the next one return at once. */
  wake(): void {
    if (this.wakers.size === 0) this.pending = true;
    for (const w of [...this.wakers]) w();
  }

  /** Wakes every sleeper now and makes later sleeps return at once. */
  close(): void {
    this.closed = true;
    for (const w of [...this.wakers]) w();
  }
}
