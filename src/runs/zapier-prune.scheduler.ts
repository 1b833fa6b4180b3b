import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ZAPIER_OPTIONS, ZAPIER_RETENTION_JOB } from '../zapier.constants.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZAPIER_HOST, type ZapierHost } from '../zapier-host.provider.js';
import { OutageLog } from '../common/outage-log.js';
import { ZapierPruner } from './zapier-pruner.js';

/**
 * Prunes every `retention.intervalMs` on every instance, as a named interval in
 * `SchedulerRegistry`; a pass still running when the next is due makes that one skip. Not at
 * startup: a restarting fleet should not prune all at once.
 */
@Injectable()
export class ZapierPruneScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly outage = new OutageLog(new Logger('ZapierStorage'), 'Pruning old runs');
  private running = false;

  constructor(
    private readonly pruner: ZapierPruner,
    @Inject(ZAPIER_HOST) private readonly host: ZapierHost,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.retention.enabled) return;
    const interval = setInterval(() => void this.tick(), this.options.retention.intervalMs);
    this.host.scheduler.addInterval(ZAPIER_RETENTION_JOB, interval);
  }

  onApplicationShutdown(): void {
    if (this.host.scheduler.doesExist('interval', ZAPIER_RETENTION_JOB)) {
      this.host.scheduler.deleteInterval(ZAPIER_RETENTION_JOB);
    }
  }

  /** One pruning pass (the interval's; tests call it). */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.pruner.prune();
      this.outage.succeeded();
    } catch (error) {
      this.outage.failed(error);
    } finally {
      this.running = false;
    }
  }
}
