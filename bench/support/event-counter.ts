import { Inject, Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';

/** Injection token: whether the counter keeps the set of run ids it heard. */
export const TRACK_EVENT_IDS = 'bench:track-event-ids';

/**
 * Counts the run events a server emits, the module's (`zapier.run.*`) and the peer's
 * (`peer.run.*`), as a plain `@OnEvent` listener a user would write.
 */
@Injectable()
export class EventCounter {
  events = 0;
  private readonly ids: Set<string> | null;

  constructor(@Inject(TRACK_EVENT_IDS) trackIds: boolean) {
    this.ids = trackIds ? new Set() : null;
  }

  get distinctIds(): number {
    return this.ids ? this.ids.size : -1;
  }

  @OnEvent('zapier.run.completed')
  @OnEvent('zapier.run.failed')
  @OnEvent('peer.run.completed')
  @OnEvent('peer.run.failed')
  heard(event: { runId: string }): void {
    this.events += 1;
    this.ids?.add(event.runId);
  }
}
