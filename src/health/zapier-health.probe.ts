import { Inject, Injectable } from '@nestjs/common';
import { ZAPIER_BUDGET_KEY, ZAPIER_CLOCK } from '../zapier.constants.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { ZapierBudgetRepository } from '../storage/request-budget.repository.js';
import { ZapierRunReport } from '../storage/run-report.repository.js';
import { ZapierSignatureVerifier } from '../signature/zapier-signature.verifier.js';

/**
 * What a health check found, before any threshold judges it. Durations are milliseconds; the
 * run and cooldown figures are `null` when the database did not answer.
 *
 * @publicApi
 */
export interface ZapierHealthReport {
  database: { reachable: boolean; error: string | null };
  /** Zapier's signing keys: how many are loaded, how long ago they were fetched, the last failure. */
  jwks: { keys: number; ageMs: number | null; error: string | null };
  runs: {
    /** Runs whose callback is late (see `ZapierRunState`). */
    overdue: number;
    /** How long ago the oldest overdue run was started, or `null` if none is overdue. */
    oldestOverdueAgeMs: number | null;
    /** Runs that need a person: an event that kept failing, or a result that could not be stored. */
    parked: number;
    /** Events waiting for delivery to listeners, or for a retry. */
    deliveryBacklog: number;
  } | null;
  /** How long the 429 cooldown shared by every instance still pauses requests to Zapier (0: none). */
  cooldownRemainingMs: number | null;
}

/**
 * Looks at what the module depends on and what it holds: the database (by reading the run counts
 * and the request budget from it), Zapier's signing keys (fetching them if none are loaded yet,
 * as the first callback would), the runs that are late or parked, the delivery backlog and the
 * request-budget cooldown. It judges nothing: `nestjs-zapier/terminus` turns a report into a
 * health indicator's status. Never throws.
 */
@Injectable()
export class ZapierHealthProbe {
  constructor(
    private readonly report: ZapierRunReport,
    private readonly budget: ZapierBudgetRepository,
    private readonly verifier: ZapierSignatureVerifier,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
  ) {}

  async check(): Promise<ZapierHealthReport> {
    const now = this.clock.now();
    const [stored, keys] = await Promise.all([this.readStorage(now), this.verifier.keyStatus()]);
    return {
      ...stored,
      jwks: {
        keys: keys.keys,
        ageMs: keys.fetchedAt === null ? null : Math.max(0, this.clock.now() - keys.fetchedAt),
        error: keys.error,
      },
    };
  }

  private async readStorage(now: number): Promise<Omit<ZapierHealthReport, 'jwks'>> {
    try {
      const [counts, budget] = await Promise.all([
        this.report.counts(now),
        this.budget.read(ZAPIER_BUDGET_KEY),
      ]);
      return {
        database: { reachable: true, error: null },
        runs: {
          overdue: counts.overdue,
          oldestOverdueAgeMs:
            counts.oldestOverdueAt === null ? null : Math.max(0, now - counts.oldestOverdueAt),
          parked: counts.parked,
          deliveryBacklog: counts.delivering,
        },
        cooldownRemainingMs: Math.max(0, (budget?.cooldownUntil ?? 0) - now),
      };
    } catch (error) {
      return {
        database: {
          reachable: false,
          error: error instanceof Error ? error.message : String(error),
        },
        runs: null,
        cooldownRemainingMs: null,
      };
    }
  }
}
