import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { eventListenerMetadataKey } from '../compat/event-listener-metadata.js';
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
import { ZapierRunningListeners } from './zapier-running-listeners.js';

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
 *
 * Each listener that hears the module's events is also tracked (see `track`), so that a delivery
 * attempt that runs out of time (`delivery.timeoutMs`) names the listeners still running.
 */
@Injectable()
export class ZapierListenerInspector implements OnModuleInit {
  private readonly logger = new Logger('ZapierDelivery');
  private readonly metadataKey = eventListenerMetadataKey();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    @Inject(ZAPIER_HOST) private readonly host: ZapierHost,
    private readonly running: ZapierRunningListeners,
  ) {}

  onModuleInit(): void {
    const routing = readEventRouting(this.host.events);
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    const seen = new Set<object>();
    for (const wrapper of wrappers) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || wrapper.isAlias || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      // The metadata belongs to the class, so it is adjusted (and warned about) once per class;
      // every instance of it gets its own tracking.
      const first = !seen.has(prototype);
      seen.add(prototype);
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = (prototype as Record<string, unknown>)[methodName];
        if (typeof method !== 'function') continue;
        const listener = `${prototype.constructor.name}.${methodName}()`;
        const hears = first ? this.inspect(method, listener, routing) : this.hears(method, routing);
        if (hears) this.track(instance, methodName, listener);
      }
    }
  }

  /**
   * Makes the calls of one instance's listener method visible to `ZapierRunningListeners`, so an
   * attempt that runs out of time names it. The event-emitter module reads a listener's metadata
   * from `instance[method]` and calls `instance[method]` for each event, so an own property of the
   * instance carrying the same metadata stands in for the class's method, for this instance
   * alone (other instances of the class, in this app or another, are left as they are).
   */
  private track(instance: Record<string, unknown>, methodName: string, listener: string): void {
    const method = instance[methodName] as (this: unknown, ...args: unknown[]) => unknown;
    const tracked = this.running.track(listener, method);
    for (const key of Reflect.getMetadataKeys(method) as unknown[]) {
      Reflect.defineMetadata(key, Reflect.getMetadata(key, method), tracked);
    }
    try {
      Object.defineProperty(instance, methodName, {
        value: tracked,
        configurable: true,
        writable: true,
      });
    } catch {
      // A frozen instance: its listener still works, only unnamed when it runs out of time.
    }
  }

  /** Whether the listener method hears any of the module's events. */
  private hears(method: object, routing: EventRouting): boolean {
    return this.entries(method).some(
      (entry) => classifyListener(entry.event, routing, OWN_EVENTS).kind !== 'none',
    );
  }

  /** Adjusts and warns as the class comment says; returns whether it hears the module's events. */
  private inspect(method: object, listener: string, routing: EventRouting): boolean {
    const entries = this.entries(method);
    if (entries.length === 0) return false;
    let changed = false;
    let hears = false;
    const adjusted = entries.map((entry) => {
      const reach = classifyListener(entry.event, routing, OWN_EVENTS);
      if (reach.kind === 'none') return entry;
      hears = true;
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
    if (changed) Reflect.defineMetadata(this.metadataKey, adjusted, method);
    return hears;
  }

  /** What `@OnEvent` recorded on the method, one entry per decorator. */
  private entries(method: object): ListenerMetadata[] {
    const metadata = Reflect.getMetadata(this.metadataKey, method) as
      ListenerMetadata[] | ListenerMetadata | undefined;
    if (!metadata) return [];
    return Array.isArray(metadata) ? metadata : [metadata];
  }
}
