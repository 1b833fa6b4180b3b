/**
 * What every run event carries for a listener to be idempotent: delivery is at least once, so
 * the same `runId` can arrive again (with a higher `attempt`) after a listener failed or the
 * process died mid-delivery.
 *
 * @publicApi
 */
export abstract class ZapierRunEvent {
  /** Zapier's run id; the key to deduplicate on. */
  readonly runId: string;
  /** What the app attached in `createActionRun({ metadata })`; `null` for runs it did not start. */
  readonly metadata: Record<string, unknown> | null;
  /** 1 on the first delivery of this run's event, 2 on the first redelivery, and so on. */
  readonly attempt: number;

  protected constructor(fields: {
    runId: string;
    metadata: Record<string, unknown> | null;
    attempt: number;
  }) {
    this.runId = fields.runId;
    this.metadata = fields.metadata;
    this.attempt = fields.attempt;
  }
}
