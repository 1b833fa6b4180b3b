import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierHealthReport } from '../health/zapier-health.probe.js';

/**
 * When `ZapierHealthIndicator` reports `down`. An unreachable database and no signing key at all
 * are always down: this instance then answers every callback 503. The other limits are off
 * unless set, because they describe the whole cluster's runs rather than this instance: an
 * orchestrator that restarts instances, or takes them out of service, on a parked run would
 * fix nothing. Set them on an endpoint that alerts a person.
 *
 * @publicApi
 */
export interface ZapierHealthThresholds {
  /**
   * Down when the oldest overdue run (its callback late, the poller on it) was started longer
   * ago than this, in milliseconds.
   * @default no limit
   */
  maxOverdueAgeMs?: number;
  /**
   * Down when more runs than this are parked (an event that kept failing, or a result that could
   * not be stored).
   * @default no limit
   */
  maxParkedRuns?: number;
  /**
   * Down when more events than this wait for delivery to listeners (or for a retry).
   * @default no limit
   */
  maxDeliveryBacklog?: number;
  /**
   * Down when Zapier's keys were last fetched longer ago than this, in milliseconds: the JWKS
   * stopped answering. Known keys still verify; a key Zapier rotated in would not. Keys older
   * than `jwks.cacheMaxAgeMs` are fetched again by the check itself.
   * @default no limit
   */
  maxKeyAgeMs?: number;
  /**
   * Down while a 429 cooldown pauses every instance's requests to Zapier.
   * @default false
   */
  downDuringCooldown?: boolean;
  /**
   * Down when the checks take longer than this, in milliseconds (a hung database).
   * @default 5000
   */
  timeoutMs?: number;
}

/** The default of `timeoutMs`, written once. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 5000;

/** What is wrong with a report under the thresholds, one message each; empty when healthy. */
export function healthProblems(
  report: ZapierHealthReport,
  thresholds: ZapierHealthThresholds,
): string[] {
  const problems: string[] = [];
  const over = (value: number | null | undefined, max: number | undefined): value is number =>
    value !== null && value !== undefined && max !== undefined && value > max;
  if (!report.database.reachable) {
    problems.push(ZapierMessages.healthDatabaseUnreachable(report.database.error ?? 'unknown'));
  }
  const { jwks, runs } = report;
  if (jwks.keys === 0) problems.push(ZapierMessages.healthNoKeys(jwks.error));
  else if (over(jwks.ageMs, thresholds.maxKeyAgeMs)) {
    problems.push(ZapierMessages.healthKeysOld(jwks.ageMs, thresholds.maxKeyAgeMs as number));
  }
  if (runs !== null) {
    if (over(runs.oldestOverdueAgeMs, thresholds.maxOverdueAgeMs)) {
      problems.push(
        ZapierMessages.healthOverdue(
          runs.overdue,
          runs.oldestOverdueAgeMs,
          thresholds.maxOverdueAgeMs as number,
        ),
      );
    }
    if (over(runs.parked, thresholds.maxParkedRuns)) {
      problems.push(ZapierMessages.healthParked(runs.parked, thresholds.maxParkedRuns as number));
    }
    if (over(runs.deliveryBacklog, thresholds.maxDeliveryBacklog)) {
      problems.push(
        ZapierMessages.healthBacklog(runs.deliveryBacklog, thresholds.maxDeliveryBacklog as number),
      );
    }
  }
  if (thresholds.downDuringCooldown === true && (report.cooldownRemainingMs ?? 0) > 0) {
    problems.push(ZapierMessages.healthCooldown(report.cooldownRemainingMs as number));
  }
  return problems;
}
