import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { ZAPIER_DISPATCH_JOB, ZAPIER_OPTIONS } from '../zapier.constants.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierDispatcher } from './zapier-dispatcher.js';

/**
 * Runs the delivery sweep at startup (re-emitting what a previous process left undelivered) and
 * every `delivery.sweepIntervalMs`, as a named interval in `SchedulerRegistry`. `@Interval()` is
 * not usable here: its argument is fixed before async options resolve. The sweep skips a tick
 * while the previous one still runs.
 */
@Injectable()
export class ZapierDispatchScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly dispatcher: ZapierDispatcher,
    private readonly scheduler: SchedulerRegistry,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
  ) {}

  onApplicationBootstrap(): void {
    const interval = setInterval(
      () => void this.dispatcher.sweep(),
      this.options.delivery.sweepIntervalMs,
    );
    this.scheduler.addInterval(ZAPIER_DISPATCH_JOB, interval);
    void this.dispatcher.sweep();
  }

  onApplicationShutdown(): void {
    if (this.scheduler.doesExist('interval', ZAPIER_DISPATCH_JOB)) {
      this.scheduler.deleteInterval(ZAPIER_DISPATCH_JOB);
    }
  }
}
