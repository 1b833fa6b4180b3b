import { RunCompletedEvent } from './run-completed.event.js';
import { RunExpiredEvent } from './run-expired.event.js';
import { RunFailedEvent } from './run-failed.event.js';

/**
 * Names of the events the module emits through `EventEmitter2`.
 *
 * @publicApi
 */
export const ZapierEvents = {
  /** A run ended with `status: 'success'`. Payload: `RunCompletedEvent`. */
  RunCompleted: 'zapier.run.completed',
  /** A run ended with `status: 'error'`. Payload: `RunFailedEvent`. */
  RunFailed: 'zapier.run.failed',
  /** No callback and no poll could tell how a run ended before Zapier forgot it. Payload: `RunExpiredEvent`. */
  RunExpired: 'zapier.run.expired',
} as const;

/** One of the event names in `ZapierEvents`. @publicApi */
export type ZapierEventName = (typeof ZapierEvents)[keyof typeof ZapierEvents];

/**
 * Maps each event name to its payload class, so `OnZapierEvent(name)` can type the handler.
 *
 * @publicApi
 */
export interface ZapierEventMap {
  'zapier.run.completed': RunCompletedEvent;
  'zapier.run.failed': RunFailedEvent;
  'zapier.run.expired': RunExpiredEvent;
}

/** Event names for `@OnEvent('zapier.run.completed')` users who prefer constants. @publicApi */
export const ZAPIER_RUN_COMPLETED = ZapierEvents.RunCompleted;
/** @publicApi */
export const ZAPIER_RUN_FAILED = ZapierEvents.RunFailed;
/** @publicApi */
export const ZAPIER_RUN_EXPIRED = ZapierEvents.RunExpired;
