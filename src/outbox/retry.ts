/**
 * The seed's retry schedule: the n-th failure (retry_count n before it) waits
 * base · 2^n seconds, plus up to `jitterRatio` of that so a burst of failures does not
 * come back as one burst.
 */
export const DEFAULT_BASE_BACKOFF_SECONDS = 60;
export const DEFAULT_JITTER_RATIO = 0.1;

/** Longest wait, whatever the retry count (max_retries can be raised per row). */
const MAX_DELAY_SECONDS = 7 * 24 * 60 * 60;

export function retryDelaySeconds(
  retryCount: number,
  baseSeconds = DEFAULT_BASE_BACKOFF_SECONDS,
  random: () => number = Math.random,
  jitterRatio = DEFAULT_JITTER_RATIO,
): number {
  const delay = Math.min(baseSeconds * 2 ** Math.max(0, retryCount), MAX_DELAY_SECONDS);
  return delay + delay * jitterRatio * random();
}
