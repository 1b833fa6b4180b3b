import { Injectable } from '@nestjs/common';
import type { DeliverableRun } from './stored-run.js';

type Handler = {
  /** Runs this instance claimed for delivery, due now. */
  claimed(runs: readonly DeliverableRun[]): void;
  /** Deliveries became due that no instance has claimed yet: look for them now. */
  due(): void;
  /** How many more runs the runner can take now (free slots, free places in its queue). */
  room?(): number;
};

/**
 * Hands the outbox work a statement just claimed for this instance to the delivery runner, in
 * process, so a fresh result is delivered without another round trip to claim it. What is never
 * handed over (the process died, nothing subscribed) stays in the outbox, where the sweep finds
 * it once the claim runs out.
 */
@Injectable()
export class ZapierClaimedDeliveries {
  private handler: Handler | undefined;

  subscribe(handler: Handler): void {
    this.handler = handler;
  }

  /**
   * Whether a statement about to create `count` deliveries should claim them for this instance:
   * only while the runner has room for all of them. A runner whose slots are taken (listeners that
   * hang, or are slow) would only queue them and renew their claims while other instances sit
   * idle; left unclaimed and due, they go to the first sweep of any instance with room, this
   * one's included once it has some. Statements running at the same moment are not counted
   * against each other, so the runner may be handed one batch more than it has room for.
   * With nothing subscribed, or a handler that sets no limit, the statement claims as before.
   */
  hasRoomFor(count: number): boolean {
    return (this.handler?.room?.() ?? Infinity) >= count;
  }

  handOver(runs: readonly DeliverableRun[]): void {
    if (runs.length > 0) this.handler?.claimed(runs);
  }

  signalDue(): void {
    this.handler?.due();
  }
}
