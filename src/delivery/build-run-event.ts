import { RunCompletedEvent } from '../events/run-completed.event.js';
import { RunExpiredEvent, type RunExpiredReason } from '../events/run-expired.event.js';
import { RunFailedEvent } from '../events/run-failed.event.js';
import { ZapierEvents, type ZapierEventName } from '../events/zapier.events.js';
import type { ZapierRunEvent } from '../events/zapier-run-event.js';
import type { DeliverableRun } from '../storage/stored-run.js';

/** The event name and payload a stored run is delivered as. */
export function buildRunEvent(run: DeliverableRun): {
  name: ZapierEventName;
  event: ZapierRunEvent;
} {
  const common = { runId: run.runId, metadata: run.metadata, attempt: run.attempt };
  if (run.status === 'expired') {
    return {
      name: ZapierEvents.RunExpired,
      event: new RunExpiredEvent({
        ...common,
        submittedAt: run.submittedAt === null ? null : new Date(run.submittedAt),
        reason: (run.expiredReason ?? 'retention') as RunExpiredReason,
      }),
    };
  }
  const arrival = {
    source: run.source ?? 'callback',
    receivedAt: new Date(run.receivedAt ?? Date.now()),
  };
  if (run.status === 'success') {
    return {
      name: ZapierEvents.RunCompleted,
      event: new RunCompletedEvent({ ...common, ...arrival, results: run.results }),
    };
  }
  return {
    name: ZapierEvents.RunFailed,
    event: new RunFailedEvent({ ...common, ...arrival, errors: run.errors }),
  };
}
