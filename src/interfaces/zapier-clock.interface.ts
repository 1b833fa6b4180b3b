/**
 * Where the module reads the time from. Override the `ZAPIER_CLOCK` provider in tests to move
 * time (for example past Zapier's 7-day retention) without waiting.
 *
 * @publicApi
 */
export interface ZapierClock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number;
}
