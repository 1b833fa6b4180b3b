import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OnEvent } from '@nestjs/event-emitter';
import { eventListenerMetadataKey } from './event-listener-metadata.js';

// Runs against whichever @nestjs/event-emitter is installed: 12 in the repository, 3 in the
// Nest 11 profile (compat/nest11/).
describe('eventListenerMetadataKey', () => {
  it("is the key under which the installed @OnEvent records a listener's event and options", () => {
    class Listener {
      @OnEvent('zapier.run.completed', { suppressErrors: false })
      @OnEvent('zapier.run.failed')
      heard(): void {}
    }
    const metadata: unknown = Reflect.getMetadata(
      eventListenerMetadataKey(),
      Object.getOwnPropertyDescriptor(Listener.prototype, 'heard')?.value as object,
    );
    assert.deepEqual(metadata, [
      { event: 'zapier.run.failed', options: undefined },
      { event: 'zapier.run.completed', options: { suppressErrors: false } },
    ]);
  });
});
