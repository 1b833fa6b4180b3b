const WINDOW_MS = 60_000;

/** What the limiter decided for one request, with the values for the `X-RateLimit-*` headers. */
export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch milliseconds when capacity returns (end of the cooldown when denied). */
  resetAt: number;
}

/**
 * Zapier's documented limit (docs/decisions.md#f4): a sliding 60 s window, and a cooldown after the
 * first 429 during which every request is refused. Only allowed requests occupy the window, so a
 * client that keeps retrying during the cooldown is not locked out forever.
 */
export class SandboxRateLimiter {
  private readonly stamps: number[] = [];
  private head = 0;
  private cooldownUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly perMinute: number,
    private readonly cooldownMs: number,
  ) {}

  check(now: number): RateLimitDecision {
    if (now < this.cooldownUntil) return this.deny();
    while (this.head < this.stamps.length && this.stamps[this.head] <= now - WINDOW_MS) {
      this.head += 1;
    }
    this.compact();
    const inWindow = this.stamps.length - this.head;
    if (inWindow >= this.perMinute) {
      this.cooldownUntil = now + this.cooldownMs;
      return this.deny();
    }
    this.stamps.push(now);
    return {
      allowed: true,
      limit: this.perMinute,
      remaining: this.perMinute - inWindow - 1,
      resetAt: this.stamps[this.head] + WINDOW_MS,
    };
  }

  private deny(): RateLimitDecision {
    return { allowed: false, limit: this.perMinute, remaining: 0, resetAt: this.cooldownUntil };
  }

  // Drop consumed stamps in bulk so a long test never shifts a large array per request.
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.stamps.length) {
      this.stamps.splice(0, this.head);
      this.head = 0;
    }
  }
}
