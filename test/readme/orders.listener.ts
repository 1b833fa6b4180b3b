import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { ZapierClient, type RunCompletedEvent, type RunFailedEvent } from 'nestjs-zapier';

@Injectable()
export class Orders {
  /** Run ids already handled: delivery is at least once (keep this in your database). */
  readonly handled = new Set<string>();

  constructor(private readonly zapier: ZapierClient) {}

  /** Starts a Zapier action for an order; the result comes back as an event. */
  async sendConfirmation(orderId: number, email: string): Promise<string> {
    const { id } = await this.zapier.createActionRun({
      action: 'core:send_email', // the action id from GET /v2/actions
      authentication: null,
      inputs: { to: email, subject: `Order ${orderId} confirmed` },
      metadata: { orderId },
    });
    return id;
  }

  @OnEvent('zapier.run.completed')
  done(event: RunCompletedEvent): void {
    if (this.handled.has(event.runId)) return; // a redelivery
    this.handled.add(event.runId);
    console.log(`order ${String(event.metadata?.orderId)}: sent`, event.results);
  }

  @OnEvent('zapier.run.failed')
  failed(event: RunFailedEvent): void {
    if (this.handled.has(event.runId)) return;
    this.handled.add(event.runId);
    console.log(`order ${String(event.metadata?.orderId)}: failed`, event.errors);
  }
}
