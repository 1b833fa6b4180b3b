import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { setMaxListeners } from 'node:events';
import {
  ZAPIER_BUDGET_KEY,
  ZAPIER_CLOCK,
  ZAPIER_OPTIONS,
  ZAPIER_RATE_WINDOW_MS,
} from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { boundedSleep } from '../common/bounded-sleep.js';
import { ZapierBudgetRepository } from '../storage/request-budget.repository.js';

/**
 * Margin added to Zapier's 60 s window when spacing requests, so that a request sent a few ms
 * late cannot put one request too many into some 60 s window as Zapier counts it.
 */
const WINDOW_MARGIN_MS = 500;

/** What `acquireWithin()` decided: the slot is taken, or it would have meant waiting `waitMs`. */
export type ZapierBudgetAcquisition = { acquired: true } | { acquired: false; waitMs: number };

/**
 * The request budget every request to Zapier goes through: the poller's reads and the client's
 * creates share it, across all app instances on the database, and a 429 pauses all of them.
 *
 * Requests are spaced evenly, one per `(60 s + margin) / maxRequestsPerMinute`, by reserving
 * the next slot on one shared row in a single atomic statement; so no 60 s window ever holds
 * more than `maxRequestsPerMinute` requests, whatever the number of instances. When idle, a
 * request goes at once; a burst is spread out rather than answered 429 by Zapier (whose cooldown
 * would cost a full minute).
 */
@Injectable()
export class ZapierRequestBudget implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ZapierClient');
  private readonly stopping = new AbortController();
  private cooldownLoggedUntil = 0;
  readonly intervalMs: number;
  private readonly maxCooldownMs: number;

  constructor(
    private readonly budget: ZapierBudgetRepository,
    @Inject(ZAPIER_OPTIONS) options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
  ) {
    this.intervalMs = Math.ceil(
      (ZAPIER_RATE_WINDOW_MS + WINDOW_MARGIN_MS) / options.polling.maxRequestsPerMinute,
    );
    this.maxCooldownMs = options.polling.maxCooldownMs;
    // Every request waiting for a slot listens on this signal; many concurrent creates are normal.
    setMaxListeners(0, this.stopping.signal);
  }

  /**
   * Waits for this instance's next slot. Rejects with an `AbortError` when the app shuts down or
   * `signal` aborts.
   */
  async acquire(signal?: AbortSignal): Promise<void> {
    await this.take(null, signal);
  }

  /**
   * `acquire()`, unless the slot (behind the queue or a cooldown) is more than `maxWaitMs` away,
   * counted from the call: then it returns at once with that wait, and no slot is taken.
   */
  acquireWithin(maxWaitMs: number, signal?: AbortSignal): Promise<ZapierBudgetAcquisition> {
    return this.take(maxWaitMs, signal);
  }

  private async take(
    maxWaitMs: number | null,
    signal: AbortSignal | undefined,
  ): Promise<ZapierBudgetAcquisition> {
    const stop = signal ? AbortSignal.any([this.stopping.signal, signal]) : this.stopping.signal;
    const deadline = maxWaitMs === null ? null : this.clock.now() + maxWaitMs;
    for (;;) {
      // Checked before reserving: a slot reserved for a request that will not go out is lost
      // to every instance.
      stop.throwIfAborted();
      const now = this.clock.now();
      const slot =
        deadline === null
          ? await this.budget.reserveSlot(ZAPIER_BUDGET_KEY, now, this.intervalMs)
          : await this.budget.reserveSlotWithin(
              ZAPIER_BUDGET_KEY,
              now,
              this.intervalMs,
              Math.max(0, deadline - now),
            );
      if (slot === null) return { acquired: false, waitMs: await this.waitFrom(now) };
      const wait = slot - this.clock.now();
      if (wait <= 0) return { acquired: true };
      // In steps: a wait read from the shared row may be anything a 429 ever stored there.
      await boundedSleep(wait, stop);
      // A 429 may have started a cooldown after this slot was reserved: wait for its end too.
      const state = await this.budget.read(ZAPIER_BUDGET_KEY);
      if (state === null || state.cooldownUntil <= this.clock.now()) return { acquired: true };
    }
  }

  /** How long from `now` until the next slot the shared row would give (queue or cooldown). */
  private async waitFrom(now: number): Promise<number> {
    const state = await this.budget.read(ZAPIER_BUDGET_KEY);
    return state === null ? 0 : Math.max(0, state.nextSlotAt, state.cooldownUntil) - now;
  }

  /**
   * Pauses every instance's requests for `waitMs` after a 429, cut to `polling.maxCooldownMs`:
   * the cut value is what the shared row keeps, and a stored cooldown is never shortened.
   */
  async cooldown(waitMs: number): Promise<void> {
    const capped = Math.min(Number.isNaN(waitMs) ? 0 : Math.max(0, waitMs), this.maxCooldownMs);
    const until = this.clock.now() + capped;
    await this.budget.startCooldown(ZAPIER_BUDGET_KEY, until);
    if (until > this.cooldownLoggedUntil) {
      this.cooldownLoggedUntil = until;
      if (capped < waitMs) {
        this.logger.warn(
          ZapierMessages.cooldownCapped(Math.ceil(waitMs / 1000), Math.ceil(capped / 1000)),
        );
      } else {
        this.logger.warn(ZapierMessages.rateLimited(Math.ceil(capped / 1000)));
      }
    }
  }

  beforeApplicationShutdown(): void {
    this.stopping.abort();
  }
}
