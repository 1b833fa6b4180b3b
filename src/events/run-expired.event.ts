import { ZapierRunEvent } from './zapier-run-event.js';

/**
 * Why a run expired: older than Zapier's retention with no result (`retention`), or Zapier
 * answered 404 for it after the grace period (`not-found`).
 *
 * @publicApi
 */
export type RunExpiredReason = 'retention' | 'not-found';

/**
 * Payload of `zapier.run.expired`: nobody will ever know how this run ended. Unlike
 * `zapier.run.failed`, the action may well have run.
 *
 * @publicApi
 */
export class RunExpiredEvent extends ZapierRunEvent {
  readonly status = 'expired' as const;
  /** When `ZapierClient` submitted the run; `null` if it did not. */
  readonly submittedAt: Date | null;
  readonly reason: RunExpiredReason;

  constructor(fields: {
    runId: string;
    metadata: Record<string, unknown> | null;
    submittedAt: Date | null;
    reason: RunExpiredReason;
    attempt: number;
  }) {
    super(fields);
    this.submittedAt = fields.submittedAt;
    this.reason = fields.reason;
  }
}
