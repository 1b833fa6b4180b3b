import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { ZapierMessages } from '../zapier.messages.js';
import { ZapierHealthProbe, type ZapierHealthReport } from '../health/zapier-health.probe.js';
import {
  DEFAULT_HEALTH_TIMEOUT_MS,
  healthProblems,
  type ZapierHealthThresholds,
} from './zapier-health.thresholds.js';

/**
 * What the indicator reports under its key: the probe's findings, and `problems` (why it is
 * down) when it is.
 *
 * @publicApi
 */
export type ZapierHealthDetails = Partial<ZapierHealthReport> & { problems?: string[] };

/**
 * A `@nestjs/terminus` health indicator for the module: the database reachable, Zapier's signing
 * keys loaded (and how old), the oldest overdue run, parked runs, the request-budget cooldown and
 * the delivery backlog, `down` when one passes its threshold (see `ZapierHealthThresholds`).
 * Provide it next to your `TerminusModule` and `ZapierModule` imports.
 *
 * @example
 * ```ts
 * @Controller('health')
 * export class HealthController {
 *   constructor(private readonly health: HealthCheckService, private readonly zapier: ZapierHealthIndicator) {}
 *
 *   @Get()
 *   @HealthCheck()
 *   check() {
 *     return this.health.check([() => this.zapier.isHealthy('zapier', { maxParkedRuns: 0 })]);
 *   }
 * }
 * ```
 * @publicApi
 */
@Injectable()
export class ZapierHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly probe: ZapierHealthProbe,
  ) {}

  /** Checks, and reports `up` or `down` under `key`; never throws. */
  async isHealthy<const Key extends string>(
    key: Key,
    thresholds: ZapierHealthThresholds = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const session = this.health.check(key);
    const timeoutMs = thresholds.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
    const report = await this.checkWithin(timeoutMs);
    if (report === null) {
      return session.down({ problems: [ZapierMessages.healthTimedOut(timeoutMs)] });
    }
    const problems = healthProblems(report, thresholds);
    const details: ZapierHealthDetails = problems.length > 0 ? { ...report, problems } : report;
    return problems.length > 0 ? session.down(details) : session.up(details);
  }

  /** The probe's report, or `null` if it took longer than `timeoutMs` (it runs on, unobserved). */
  private async checkWithin(timeoutMs: number): Promise<ZapierHealthReport | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    try {
      return await Promise.race([this.probe.check(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
