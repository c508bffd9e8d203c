export interface Periodic {
  /** Stops the timer and waits for a run still in flight. */
  stop(): Promise<void>;
}

/**
 * Runs task every intervalMs in the background (timer unref'd, so it never keeps the process
 * alive); a run still going skips the tick, and errors go to onError and are retried next tick.
 */
export function every(
  intervalMs: number,
  task: () => Promise<unknown>,
  onError: (err: unknown) => void = () => {},
): Periodic {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .catch(onError)
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
