/** A sleep that shutdown can cut short, so stop() never waits out a poll interval. */
export class Sleeper {
  private wakers = new Set<() => void>();
  private closed = false;

  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
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

  /** Wakes every sleeper now and makes later sleeps return at once. */
  close(): void {
    this.closed = true;
    for (const w of [...this.wakers]) w();
  }
}
