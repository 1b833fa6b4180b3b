/** Header access shared by fetch's `Headers` and plain objects. */
export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * How long Zapier asks us to wait after a 429, in ms (docs/decisions.md#f4): `Retry-After` as
 * seconds or an HTTP date; else `X-RateLimit-Reset` as an epoch (≥ 1e9) or a delta in seconds;
 * else the documented 60 s cooldown. Never negative.
 */
export function retryAfterMs(headers: HeaderReader, now: number, fallbackMs: number): number {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.ceil(Number(retryAfter) * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers.get('x-ratelimit-reset')?.trim();
  if (reset && /^\d+(\.\d+)?$/.test(reset)) {
    const value = Number(reset);
    return value >= 1e9 ? Math.max(0, Math.ceil(value * 1000 - now)) : Math.ceil(value * 1000);
  }
  return fallbackMs;
}
