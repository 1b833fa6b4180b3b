import { OnEvent } from '@nestjs/event-emitter';
import { ZapierConfigurationError } from '../errors/zapier-configuration.error.js';
import { ZapierMessages } from '../zapier.messages.js';

/**
 * The reflect-metadata key under which `@OnEvent` records a listener's event and options on its
 * method, for `@nestjs/event-emitter` 3 (Nest 11) and 12 (Nest 12) alike.
 *
 * 12 exports it as `EVENT_LISTENER_METADATA`; 3 does not, and importing that name from it fails
 * as the module loads. Both set it as `KEY` on the decorator `OnEvent()` returns (the convention
 * of Nest's own `SetMetadata`), so it is read from there: no version check, no deep import of the
 * package's constants. Called at boot, so that a release without it fails there rather than
 * leaving listeners' errors swallowed.
 */
export function eventListenerMetadataKey(): string {
  const decorator: MethodDecorator & { KEY?: unknown } = OnEvent('zapier');
  if (typeof decorator.KEY !== 'string') {
    throw new ZapierConfigurationError(ZapierMessages.listenerMetadataUnknown());
  }
  return decorator.KEY;
}
