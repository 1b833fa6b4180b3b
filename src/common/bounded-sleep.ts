import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The longest single timer the module sets. Node runs a timer whose delay is over 2^31-1 ms
 * (24.8 days) after 1 ms instead, with only a `TimeoutOverflowWarning`, so a loop that sleeps on a
 * computed wait would spin; one Zapier rate window per step keeps every timer far below that.
 */
export const MAX_SLEEP_STEP_MS = 60_000;

/**
 * Sleeps `ms` of real time (none when it is not positive), as timers of at most
 * `MAX_SLEEP_STEP_MS` each, so that no computed wait, however large, overflows into a hot loop.
 * Rejects with an `AbortError` when `signal` aborts.
 */
export async function boundedSleep(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  // Infinity is slept in steps like any other wait; NaN is no wait at all.
  let left = Number.isNaN(ms) ? 0 : Math.min(ms, Number.MAX_SAFE_INTEGER);
  while (left > 0) {
    const step = Math.min(left, MAX_SLEEP_STEP_MS);
    await sleep(step, undefined, { signal });
    left -= step;
  }
}
