import type { ZapierRunError } from '../interfaces/action-run.interface.js';
import type { ZapierRunSource } from '../interfaces/action-run.interface.js';
import { ZapierRunEvent } from './zapier-run-event.js';

/**
 * Payload of `zapier.run.failed`: Zapier reported the action failed (`status: 'error'`).
 *
 * @publicApi
 */
export class RunFailedEvent extends ZapierRunEvent {
  readonly status = 'error' as const;
  /** Zapier's errors; `delay` (seconds) is set when the partner throttled the action. */
  readonly errors: ZapierRunError[];
  readonly source: ZapierRunSource;
  readonly receivedAt: Date;

  constructor(fields: {
    runId: string;
    errors: ZapierRunError[];
    source: ZapierRunSource;
    metadata: Record<string, unknown> | null;
    receivedAt: Date;
    attempt: number;
  }) {
    super(fields);
    this.errors = fields.errors;
    this.source = fields.source;
    this.receivedAt = fields.receivedAt;
  }
}
