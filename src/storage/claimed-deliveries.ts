import { Injectable } from '@nestjs/common';
import type { DeliverableRun } from './stored-run.js';

type Handler = {
  /** Runs this instance claimed for delivery, due now. */
  claimed(runs: readonly DeliverableRun[]): void;
  /** Deliveries became due that no instance has claimed yet: look for them now. */
  due(): void;
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

  handOver(runs: readonly DeliverableRun[]): void {
    if (runs.length > 0) this.handler?.claimed(runs);
  }

  signalDue(): void {
    this.handler?.due();
  }
}
