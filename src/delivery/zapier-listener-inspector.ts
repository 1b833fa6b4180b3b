import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { EVENT_LISTENER_METADATA } from '@nestjs/event-emitter';
import { ZapierEvents } from '../events/zapier.events.js';
import { ZapierMessages } from '../zapier.messages.js';

interface ListenerMetadata {
  event: string | symbol | Array<string | symbol>;
  options?: { suppressErrors?: boolean; async?: boolean } & Record<string, unknown>;
}

const OUR_EVENTS: string[] = Object.values(ZapierEvents);

/**
 * Makes listeners' failures visible to the dispatcher, so "delivered" means every listener
 * finished without throwing.
 *
 * `@OnEvent` wraps each handler and, with `suppressErrors` left at its default (`true`), logs and
 * swallows its errors, so `emitAsync` would report success. Before the event-emitter module binds
 * listeners (it does so in `onApplicationBootstrap`, after every `onModuleInit`), this turns
 * `suppressErrors` off for listeners of the module's events that did not choose a value. Listeners
 * that chose `suppressErrors: true` or `async: true` (not awaited by `emitAsync`) are left alone
 * and named in a warning at boot.
 */
@Injectable()
export class ZapierListenerInspector implements OnModuleInit {
  private readonly logger = new Logger('ZapierDelivery');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
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
          this.inspect(method, `${prototype.constructor.name}.${methodName}()`);
        }
      }
    }
  }

  private inspect(method: object, listener: string): void {
    const metadata = Reflect.getMetadata(EVENT_LISTENER_METADATA, method) as
      ListenerMetadata[] | ListenerMetadata | undefined;
    if (!metadata) return;
    const entries = Array.isArray(metadata) ? metadata : [metadata];
    let changed = false;
    const adjusted = entries.map((entry) => {
      const event = matchedEvent(entry.event);
      if (!event) return entry;
      if (entry.options?.async) this.logger.warn(ZapierMessages.asyncListener(listener, event));
      if (entry.options?.suppressErrors === true) {
        this.logger.warn(ZapierMessages.suppressedListener(listener, event));
        return entry;
      }
      if (entry.options?.suppressErrors === false) return entry;
      changed = true;
      return { ...entry, options: { ...entry.options, suppressErrors: false } };
    });
    if (changed) Reflect.defineMetadata(EVENT_LISTENER_METADATA, adjusted, method);
  }
}

/** The first of the module's events the listener's pattern receives (EventEmitter2 wildcards). */
function matchedEvent(pattern: ListenerMetadata['event']): string | undefined {
  const text = Array.isArray(pattern) ? pattern.map(String).join('.') : pattern;
  if (typeof text !== 'string') return undefined;
  return OUR_EVENTS.find((event) => matches(text.split('.'), event.split('.')));
}

function matches(pattern: string[], name: string[]): boolean {
  if (pattern.length === 0) return name.length === 0;
  const [head, ...rest] = pattern;
  if (head === '**') {
    for (let i = 0; i <= name.length; i++) if (matches(rest, name.slice(i))) return true;
    return false;
  }
  if (name.length === 0) return false;
  return (head === '*' || head === name[0]) && matches(rest, name.slice(1));
}
