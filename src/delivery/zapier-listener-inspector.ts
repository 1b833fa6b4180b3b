import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { EVENT_LISTENER_METADATA } from '@nestjs/event-emitter';
import { ZapierEvents } from '../events/zapier.events.js';
import { ZAPIER_EVENT_NAMESPACE } from '../zapier.constants.js';
import { ZAPIER_HOST, type ZapierHost } from '../zapier-host.provider.js';
import { ZapierMessages } from '../zapier.messages.js';
import {
  classifyListener,
  formatPattern,
  readEventRouting,
  type EventRouting,
  type ListenerPattern,
  type OwnEvents,
} from './listener-patterns.js';

interface ListenerMetadata {
  event: ListenerPattern;
  options?: { suppressErrors?: boolean; async?: boolean } & Record<string, unknown>;
}

const OWN_EVENTS: OwnEvents = {
  events: Object.values(ZapierEvents),
  namespace: ZAPIER_EVENT_NAMESPACE,
};

/**
 * Makes the failures of the module's own listeners visible to the delivery runner, so "delivered"
 * means every listener finished without throwing.
 *
 * `@OnEvent` wraps each handler and, with `suppressErrors` left at its default (`true`), logs and
 * swallows its errors, so `emitAsync` would report success and a failed delivery would never be
 * retried. Before the event-emitter module binds listeners (it does so in
 * `onApplicationBootstrap`, after every `onModuleInit`), this turns `suppressErrors` off for the
 * listeners that hear nothing but the module's events (an exact name such as
 * `zapier.run.completed`, or with the host's `wildcard` on a pattern such as `zapier.**` that
 * matches only names in the `zapier` namespace) and did not choose a value. It touches exactly those: a listener whose pattern can
 * also match the host's own events (`**`, `*.completed`) keeps the behaviour the host gave it for
 * those events, and is named in a warning at boot. Patterns are matched the way the host's
 * emitter routes them, with its own `wildcard` and `delimiter`. Listeners that chose
 * `suppressErrors: true` or `async: true` (not awaited by `emitAsync`) are left alone and named
 * in a warning too.
 */
@Injectable()
export class ZapierListenerInspector implements OnModuleInit {
  private readonly logger = new Logger('ZapierDelivery');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    @Inject(ZAPIER_HOST) private readonly host: ZapierHost,
  ) {}

  onModuleInit(): void {
    const routing = readEventRouting(this.host.events);
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    const seen = new Set<object>();
    for (const wrapper of wrappers) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || wrapper.isAlias || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype || seen.has(prototype)) continue;
      seen.add(prototype);
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = (prototype as Record<string, unknown>)[methodName];
        if (typeof method === 'function') {
          this.inspect(method, `${prototype.constructor.name}.${methodName}()`, routing);
        }
      }
    }
  }

  private inspect(method: object, listener: string, routing: EventRouting): void {
    const metadata = Reflect.getMetadata(EVENT_LISTENER_METADATA, method) as
      ListenerMetadata[] | ListenerMetadata | undefined;
    if (!metadata) return;
    const entries = Array.isArray(metadata) ? metadata : [metadata];
    let changed = false;
    const adjusted = entries.map((entry) => {
      const reach = classifyListener(entry.event, routing, OWN_EVENTS);
      if (reach.kind === 'none') return entry;
      if (entry.options?.async)
        this.logger.warn(ZapierMessages.asyncListener(listener, reach.event));
      if (entry.options?.suppressErrors === true) {
        this.logger.warn(ZapierMessages.suppressedListener(listener, reach.event));
        return entry;
      }
      if (entry.options?.suppressErrors === false) return entry;
      if (reach.kind === 'shared') {
        this.logger.warn(
          ZapierMessages.sharedListener(listener, formatPattern(entry.event), reach.event),
        );
        return entry;
      }
      changed = true;
      return { ...entry, options: { ...entry.options, suppressErrors: false } };
    });
    if (changed) Reflect.defineMetadata(EVENT_LISTENER_METADATA, adjusted, method);
  }
}
