import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ZAPIER_BUDGET_KEY, ZAPIER_CLOCK } from '../zapier.constants.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { ZapierRequestBudget } from '../budget/zapier-request-budget.js';
import { ZapierRunGauges } from '../storage/run-gauges.repository.js';
import { ZapierTelemetry, type ZapierGaugeValues } from '../telemetry/zapier-telemetry.js';

/**
 * Registers the observable gauges once the app is up, and removes them when it stops, so that a
 * stopped app's data source is never queried by a later collection.
 */
@Injectable()
export class ZapierTelemetryGauges implements OnApplicationBootstrap, OnApplicationShutdown {
  private stop: (() => void) | undefined;

  constructor(
    private readonly telemetry: ZapierTelemetry,
    private readonly gauges: ZapierRunGauges,
    private readonly budget: ZapierRequestBudget,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
  ) {}

  onApplicationBootstrap(): void {
    this.stop = this.telemetry.observeGauges(() => this.read());
  }

  onApplicationShutdown(): void {
    this.stop?.();
  }

  private async read(): Promise<ZapierGaugeValues> {
    const now = this.clock.now();
    const counts = await this.gauges.read(now, ZAPIER_BUDGET_KEY);
    return {
      pendingRuns: counts.pending,
      overdueRuns: counts.overdue,
      parkedForDelivery: counts.parkedForDelivery,
      parkedForPoll: counts.parkedForPoll,
      budgetReserved: Math.max(0, Math.ceil((counts.nextSlotAt - now) / this.budget.intervalMs)),
      budgetCooldownSeconds: Math.max(0, counts.cooldownUntil - now) / 1000,
    };
  }
}
