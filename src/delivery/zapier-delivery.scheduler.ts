import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ZAPIER_DELIVERY_JOB, ZAPIER_OPTIONS } from '../zapier.constants.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZAPIER_HOST, type ZapierHost } from '../zapier-host.provider.js';
import { ZapierDeliveryRunner } from './zapier-delivery.runner.js';

/**
 * Runs the delivery sweep at startup (re-emitting what a previous process left undelivered) and
 * every `delivery.sweepIntervalMs`, as a named interval in `SchedulerRegistry`. `@Interval()` is
 * not usable here: its argument is fixed before async options resolve. The sweep skips a tick
 * while the previous one still runs.
 */
@Injectable()
export class ZapierDeliveryScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly runner: ZapierDeliveryRunner,
    @Inject(ZAPIER_HOST) private readonly host: ZapierHost,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
  ) {}

  onApplicationBootstrap(): void {
    const interval = setInterval(
      () => void this.runner.sweep(),
      this.options.delivery.sweepIntervalMs,
    );
    this.host.scheduler.addInterval(ZAPIER_DELIVERY_JOB, interval);
    void this.runner.sweep();
  }

  onApplicationShutdown(): void {
    if (this.host.scheduler.doesExist('interval', ZAPIER_DELIVERY_JOB)) {
      this.host.scheduler.deleteInterval(ZAPIER_DELIVERY_JOB);
    }
  }
}
