import { OnEvent } from '@nestjs/event-emitter';
import type { ZapierEventMap, ZapierEventName } from './zapier.events.js';
import { ZapierEvents } from './zapier.events.js';

type Handler<E extends ZapierEventName> = (event: ZapierEventMap[E]) => unknown;

/**
 * `@OnEvent` for one of the module's events, with the handler's payload type checked against
 * the event name. Errors propagate to the module (`suppressErrors: false`), so a throwing
 * listener gets the event again later.
 *
 * @example
 * ```ts
 * @OnZapierEvent('zapier.run.failed')
 * async onFailed(event: RunFailedEvent) { ... }
 * ```
 * @publicApi
 */
export function OnZapierEvent<E extends ZapierEventName>(event: E) {
  const decorate = OnEvent(event, { suppressErrors: false });
  return <T extends Handler<E>>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): void => {
    decorate(target, key, descriptor);
  };
}

/** `@OnZapierEvent('zapier.run.completed')`. @example `@OnRunCompleted() done(e: RunCompletedEvent) {}` @publicApi */
export const OnRunCompleted = () => OnZapierEvent(ZapierEvents.RunCompleted);
/** `@OnZapierEvent('zapier.run.failed')`. @publicApi */
export const OnRunFailed = () => OnZapierEvent(ZapierEvents.RunFailed);
/** `@OnZapierEvent('zapier.run.expired')`. @publicApi */
export const OnRunExpired = () => OnZapierEvent(ZapierEvents.RunExpired);
