import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ZAPIER_BUDGET_KEY,
  ZAPIER_CLOCK,
  ZAPIER_OPTIONS,
  ZAPIER_RATE_WINDOW_MS,
} from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierBudgetRepository } from '../storage/request-budget.repository.js';

/**
 * Margin added to Zapier's 60 s window when spacing requests, so that a request sent a few ms
 * late cannot put one request too many into some 60 s window as Zapier counts it.
 */
const WINDOW_MARGIN_MS = 500;

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

  constructor(
    private readonly budget: ZapierBudgetRepository,
    @Inject(ZAPIER_OPTIONS) options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
  ) {
    this.intervalMs = Math.ceil(
      (ZAPIER_RATE_WINDOW_MS + WINDOW_MARGIN_MS) / options.polling.maxRequestsPerMinute,
    );
    // Every request waiting for a slot listens on this signal; many concurrent creates are normal.
    setMaxListeners(0, this.stopping.signal);
  }

  /**
   * Waits for this instance's next slot. Rejects with an `AbortError` when the app shuts down or
   * `signal` aborts.
   */
  async acquire(signal?: AbortSignal): Promise<void> {
    const stop = signal ? AbortSignal.any([this.stopping.signal, signal]) : this.stopping.signal;
    for (;;) {
      // Checked before reserving: a slot reserved for a request that will not go out is lost
      // to every instance.
      stop.throwIfAborted();
      const slot = await this.budget.reserveSlot(
        ZAPIER_BUDGET_KEY,
        this.clock.now(),
        this.intervalMs,
      );
      const wait = slot - this.clock.now();
      if (wait <= 0) return;
      await sleep(wait, undefined, { signal: stop });
      // A 429 may have started a cooldown after this slot was reserved: wait for its end too.
      const state = await this.budget.read(ZAPIER_BUDGET_KEY);
      if (state === null || state.cooldownUntil <= this.clock.now()) return;
    }
  }

  /** Pauses every instance's requests for `waitMs` after a 429. */
  async cooldown(waitMs: number): Promise<void> {
    const until = this.clock.now() + waitMs;
    await this.budget.startCooldown(ZAPIER_BUDGET_KEY, until);
    if (until > this.cooldownLoggedUntil) {
      this.cooldownLoggedUntil = until;
      this.logger.warn(ZapierMessages.rateLimited(Math.ceil(waitMs / 1000)));
    }
  }

  beforeApplicationShutdown(): void {
    this.stopping.abort();
  }
}
