export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** Resolves like p, or rejects with TimeoutError after ms (p keeps running; its result is dropped). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`${what} did not answer within ${ms} ms`)),
      ms,
    );
    timer.unref();
  });
  // A late rejection of p after the timeout must not become an unhandled rejection.
  p.catch(() => {});
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
