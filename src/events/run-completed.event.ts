import type { ZapierRunResults } from '../interfaces/action-run.interface.js';
import type { ZapierRunSource } from '../interfaces/action-run.interface.js';
import { ZapierRunEvent } from './zapier-run-event.js';

/**
 * Payload of `zapier.run.completed`: the action ran and Zapier reported success.
 *
 * @publicApi
 */
export class RunCompletedEvent extends ZapierRunEvent {
  readonly status = 'success' as const;
  /** The action's results, always an array (an object result is its only element). */
  readonly results: ZapierRunResults;
  /** Whether a callback or the poller found the result. */
  readonly source: ZapierRunSource;
  /** When the result reached the module. */
  readonly receivedAt: Date;

  constructor(fields: {
    runId: string;
    results: ZapierRunResults;
    source: ZapierRunSource;
    metadata: Record<string, unknown> | null;
    receivedAt: Date;
    attempt: number;
  }) {
    super(fields);
    this.results = fields.results;
    this.source = fields.source;
    this.receivedAt = fields.receivedAt;
  }
}
