import { isProjectionError, type StoreObserver } from './port.ts';

/**
 * Times one store call and reports its charge to the observer (if any). Failed calls are
 * reported too (charge 0), flagged when throttled, so metrics see errors and 429s.
 */
export async function observed<T extends { requestCharge: number }>(
  observer: StoreObserver | undefined,
  container: string,
  operation: string,
  fn: () => Promise<T>,
): Promise<T> {
  const start = performance.now();
  try {
    const r = await fn();
    observer?.onRequest({
      container,
      operation,
      requestCharge: r.requestCharge,
      durationMs: performance.now() - start,
    });
    return r;
  } catch (err) {
    observer?.onRequest({
      container,
      operation,
      requestCharge: 0,
      durationMs: performance.now() - start,
      throttled: isProjectionError(err, 'throttled') || undefined,
    });
    throw err;
  }
}
