import type { FactoryProvider } from '@nestjs/common';
import { EventEmitter2, EventEmitterReadinessWatcher } from '@nestjs/event-emitter';
import { SchedulerRegistry } from '@nestjs/schedule';
import { ZapierConfigurationError } from './errors/zapier-configuration.error.js';
import { ZapierMessages } from './zapier.messages.js';

/** What the module needs from the host app's own imports of the event and schedule modules. */
export interface ZapierHost {
  events: EventEmitter2;
  scheduler: SchedulerRegistry;
  readiness: EventEmitterReadinessWatcher | undefined;
}

export const ZAPIER_HOST = 'zapier:host';

/**
 * Resolves the host's `EventEmitter2` and `SchedulerRegistry` optionally, so that a missing
 * import fails at startup with a message naming the import to add, rather than Nest's generic
 * "can't resolve dependencies" error.
 */
export const zapierHostProvider: FactoryProvider<ZapierHost> = {
  provide: ZAPIER_HOST,
  useFactory: (
    events?: EventEmitter2,
    scheduler?: SchedulerRegistry,
    readiness?: EventEmitterReadinessWatcher,
  ): ZapierHost => {
    if (!events) throw new ZapierConfigurationError(ZapierMessages.missingEventEmitter());
    if (!scheduler) throw new ZapierConfigurationError(ZapierMessages.missingScheduler());
    return { events, scheduler, readiness };
  },
  inject: [
    { token: EventEmitter2, optional: true },
    { token: SchedulerRegistry, optional: true },
    { token: EventEmitterReadinessWatcher, optional: true },
  ],
};
