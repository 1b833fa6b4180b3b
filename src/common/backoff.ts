/**
 * Exponential backoff with ±20% jitter: `base · 2^(n-1)`, capped at `max`, for the n-th retry.
 * The jitter spreads the retries of many runs (and instances) that failed at the same moment.
 */
export function backoffDelay(
  retry: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(Math.min(maxMs, exponential * (0.8 + 0.4 * random())));
}
