import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZAPIER_CLOCK, ZAPIER_OPTIONS } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import { ZAPIER_HOST, type ZapierHost } from '../zapier-host.provider.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { backoffDelay } from '../common/backoff.js';
import { boundedSleep } from '../common/bounded-sleep.js';
import { LeaseKeeper } from '../common/lease-keeper.js';
import { OutageLog } from '../common/outage-log.js';
import { ZapierClaimedDeliveries } from '../storage/claimed-deliveries.js';
import { GroupCommit } from '../storage/group-commit.js';
import { ZapierOutbox } from '../storage/outbox.repository.js';
import type { DeliverableRun } from '../storage/stored-run.js';
import { buildRunEvent } from './build-run-event.js';
import { ZapierRunningListeners } from './zapier-running-listeners.js';
import { ZapierTelemetry } from '../telemetry/zapier-telemetry.js';
import {
  ZAPIER_ATTRIBUTES,
  ZAPIER_SPANS,
  type DeliveryOutcome,
} from '../telemetry/zapier-instruments.js';

/** Most delivered marks written in one statement, and how long a mark may wait for others. */
const MARK_BATCH = 250;
const MARK_LINGER_MS = 20;

/** How one attempt ended: every listener returned, one threw, or time ran out first. */
type AttemptOutcome =
  | { kind: 'delivered' }
  | { kind: 'failed'; error: unknown }
  | { kind: 'timedOut' }
  | { kind: 'abandoned' };

/**
 * Delivers run events to listeners at least once, from the outbox.
 *
 * A run reaches the runner already claimed by this instance: handed over right after the
 * statement that made it terminal, or claimed by the sweep. It is emitted with `emitAsync`, so a
 * listener that throws (and whose errors are not suppressed, see `ZapierListenerInspector`) makes
 * the attempt fail; the run is then retried with backoff, and parked after `maxAttempts`.
 * A successful delivery is recorded through a group commit, so concurrent deliveries share one
 * statement. Until then the run stays claimed, its lease renewed; a dead instance's claims run
 * out after `leaseMs` and any instance's sweep takes them over.
 *
 * An attempt whose listeners have not all returned after `timeoutMs` fails like one that threw:
 * its slot is freed, its claim is given up (recorded as failed, so no renewal keeps it), and a
 * warning names the listeners still running. Those cannot be stopped; whatever they do later is
 * ignored, and the retry may deliver the event again. So a claim lives at most `timeoutMs` (plus
 * one statement) past the start of its attempt, or `leaseMs` past its last renewal should that
 * statement fail.
 *
 * The runner holds at most `capacity` runs (`concurrency` delivering and as many queued). Past
 * that, the lifecycle leaves new results unclaimed (see `ZapierClaimedDeliveries.hasRoomFor`),
 * for the first sweep of any instance with room, and this one sweeps again once it has room.
 */
@Injectable()
export class ZapierDeliveryRunner implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ZapierDelivery');
  private readonly outage = new OutageLog(this.logger, 'Recording event deliveries');
  private readonly queue: DeliverableRun[] = [];
  /** Runs queued, being delivered, or delivered but not yet recorded as such. */
  private readonly active = new Set<string>();
  private running = 0;
  private readonly leases: LeaseKeeper;
  private readonly marks: GroupCommit<string, boolean>;
  private sweeping = false;
  /** A sweep was asked for while one ran: run another right after it. */
  private sweepAgain = false;
  /** Due work may be waiting that this instance had no room for: sweep once it has. */
  private backlog = false;
  private stopping = false;
  /** Ends the attempts still running when shutdown stops waiting; they are left to their claims. */
  private readonly abandon = new Set<() => void>();
  private abandoned = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly outbox: ZapierOutbox,
    claimed: ZapierClaimedDeliveries,
    @Inject(ZAPIER_HOST) private readonly host: ZapierHost,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
    private readonly listeners: ZapierRunningListeners,
    @Optional() private readonly telemetry: ZapierTelemetry = ZapierTelemetry.disabled,
  ) {
    const { instanceId, delivery } = options;
    this.leases = new LeaseKeeper(
      delivery.leaseMs,
      clock,
      (ids, until) => this.outbox.renewClaims(ids, instanceId, until),
      (error) => this.outage.failed(error),
    );
    this.marks = new GroupCommit(
      async (runIds) => {
        const marked = await this.outbox.markDelivered(runIds, instanceId, this.clock.now());
        return runIds.map((runId) => marked.has(runId));
      },
      {
        maxConcurrent: 1,
        maxItems: MARK_BATCH,
        maxWeight: MARK_BATCH,
        weight: () => 1,
        lingerMs: MARK_LINGER_MS,
      },
    );
    claimed.subscribe({
      claimed: (runs) => this.enqueue(runs),
      due: () => this.sweepSoon(),
      room: () => this.room(),
    });
  }

  /** Runs delivering plus runs queued that this instance holds at most. */
  get capacity(): number {
    return this.options.delivery.concurrency * 2;
  }

  /** How many more runs this instance can take now. */
  room(): number {
    return this.stopping ? 0 : this.capacity - this.active.size;
  }

  /**
   * Claims due deliveries and runs them: at startup, on the schedule, and when deliveries became
   * due that nobody claimed (a create call released the results it held back).
   */
  async sweep(): Promise<void> {
    if (this.sweeping || this.stopping) return;
    this.sweeping = true;
    try {
      await this.host.readiness?.waitUntilReady();
      const room = this.room();
      if (room <= 0) {
        this.backlog = true;
        return;
      }
      const runs = await this.outbox.claimDue(
        {
          now: this.clock.now(),
          instanceId: this.options.instanceId,
          claimUntil: this.leases.claimUntil(),
        },
        room,
        this.options.delivery.maxAttempts,
      );
      this.outage.succeeded();
      // As many as there was room for: more may be due.
      this.backlog = runs.length >= room;
      for (const run of runs.filter((claimed) => claimed.parked)) {
        this.logger.error(ZapierMessages.deliveryCutShort(run.runId, run.attempt));
      }
      this.enqueue(runs.filter((claimed) => !claimed.parked));
    } catch (error) {
      this.outage.failed(error);
    } finally {
      this.sweeping = false;
      if (this.sweepAgain) {
        this.sweepAgain = false;
        void this.sweep();
      }
    }
  }

  /** A sweep now, or right after the one running (whose claim may predate the new work). */
  private sweepSoon(): void {
    if (this.sweeping) this.sweepAgain = true;
    else void this.sweep();
  }

  /** Resolves when nothing is queued, being delivered or waiting to be recorded. */
  whenIdle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    const queued = this.queue.splice(0).map((run) => run.runId);
    queued.forEach((runId) => this.finish(runId));
    await this.outbox.releaseClaims(queued, this.options.instanceId).catch(() => undefined);
    // Deliveries already running finish (their listeners are mid-flight) and are recorded; their
    // claims are renewed meanwhile, and run out by themselves if the process dies instead.
    const deadline = new AbortController();
    await Promise.race([
      this.whenIdle(),
      boundedSleep(this.options.delivery.leaseMs, deadline.signal).catch(() => undefined),
    ]);
    deadline.abort();
    // Attempts still running are not recorded (the database may be closing): their claims run
    // out and another instance delivers them again.
    this.abandoned = true;
    for (const end of [...this.abandon]) end();
    this.leases.stop();
  }

  /** Runs claimed by this instance whose delivery is due now. */
  private enqueue(runs: readonly DeliverableRun[]): void {
    const fresh = runs.filter((run) => !this.active.has(run.runId));
    if (fresh.length === 0) return;
    if (this.stopping) {
      // Claimed but never started: hand them back so that another instance delivers them now.
      void this.outbox
        .releaseClaims(
          fresh.map((run) => run.runId),
          this.options.instanceId,
        )
        .catch(() => undefined);
      return;
    }
    for (const run of fresh) {
      this.active.add(run.runId);
      this.leases.hold(run.runId);
      this.queue.push(run);
    }
    // After the current I/O phase, so the 2xx of the callbacks that stored these runs goes out
    // before any listener code runs.
    setImmediate(() => this.pump());
  }

  private pump(): void {
    while (this.queue.length > 0 && this.running < this.options.delivery.concurrency) {
      const run = this.queue.shift() as DeliverableRun;
      this.running += 1;
      void this.deliver(run).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  private async deliver(run: DeliverableRun): Promise<void> {
    await this.host.readiness?.waitUntilReady();
    const { name, event } = buildRunEvent(run);
    this.listeners.watch(event);
    const attributes = {
      [ZAPIER_ATTRIBUTES.runId]: run.runId,
      [ZAPIER_ATTRIBUTES.eventName]: name,
      [ZAPIER_ATTRIBUTES.deliveryAttempt]: run.attempt,
    };
    const started = performance.now();
    const outcome = await this.telemetry.span(ZAPIER_SPANS.delivery, attributes, async (span) => {
      const attempted = await this.attempt(name, event);
      span.setAttribute(ZAPIER_ATTRIBUTES.deliveryOutcome, attempted.kind);
      return attempted;
    });
    const counted = this.countedAs(outcome, run);
    if (counted) {
      this.telemetry.delivery(
        counted,
        name,
        (performance.now() - started) / 1000,
        counted === 'delivered' && run.receivedAt !== null
          ? Math.max(0, this.clock.now() - run.receivedAt) / 1000
          : undefined,
      );
    }
    switch (outcome.kind) {
      case 'delivered':
        // The slot is free once listeners are done; the mark is written in the background.
        void this.recordDelivered(run.runId).finally(() => this.finish(run.runId));
        return;
      case 'failed':
        await this.recordFailure(run, describeError(outcome.error));
        break;
      case 'timedOut': {
        const { timeoutMs } = this.options.delivery;
        const running = this.listeners.running(event);
        this.logger.warn(
          ZapierMessages.deliveryTimedOut(run.runId, run.attempt, timeoutMs, running),
        );
        await this.recordFailure(run, ZapierMessages.deliveryTimeoutError(timeoutMs, running));
        break;
      }
      case 'abandoned':
        break;
    }
    this.finish(run.runId);
  }

  /** How an attempt is counted: a failure on the last attempt parks the run. */
  private countedAs(outcome: AttemptOutcome, run: DeliverableRun): DeliveryOutcome | null {
    if (outcome.kind === 'abandoned') return null;
    if (outcome.kind === 'delivered') return 'delivered';
    if (run.attempt >= this.options.delivery.maxAttempts) return 'parked';
    return outcome.kind === 'timedOut' ? 'timed_out' : 'failed';
  }

  /**
   * Emits the event and waits for its listeners, at most `timeoutMs`. What the listeners do after
   * that is ignored: their promise is still handled (a late rejection is no unhandled one), but
   * nothing is recorded from it, so a late success cannot mark a run whose claim was given up.
   */
  private attempt(name: string, event: object): Promise<AttemptOutcome> {
    const emitted = new Promise<unknown>((resolve) =>
      resolve(this.host.events.emitAsync(name, event)),
    ).then(
      (): AttemptOutcome => ({ kind: 'delivered' }),
      (error: unknown): AttemptOutcome => ({ kind: 'failed', error }),
    );
    let timer: NodeJS.Timeout | undefined;
    let end: (() => void) | undefined;
    const cutShort = new Promise<AttemptOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timedOut' }), this.options.delivery.timeoutMs);
      // Only the attempt waits for it; the process need not.
      timer.unref();
      end = () => resolve({ kind: 'abandoned' });
      if (this.abandoned) end();
      else this.abandon.add(end);
    });
    return Promise.race([emitted, cutShort]).finally(() => {
      clearTimeout(timer);
      if (end) this.abandon.delete(end);
    });
  }

  /**
   * Records a delivery, retrying while the database is unreachable: the run stays claimed (and
   * its claim renewed) meanwhile, so it is not delivered again elsewhere. If the process dies
   * first, the claim runs out and the run is delivered again, which at-least-once allows.
   */
  private async recordDelivered(runId: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.marks.submit(runId);
        this.outage.succeeded();
        return;
      } catch (error) {
        this.outage.failed(error);
        // Shutting down: stop trying; the claim runs out and the run is delivered again.
        if (this.stopping && attempt >= 3) return;
        await sleep(backoffDelay(attempt, 100, 5_000));
      }
    }
  }

  private async recordFailure(run: DeliverableRun, message: string): Promise<void> {
    const { maxAttempts, retryBaseDelayMs, maxRetryDelayMs } = this.options.delivery;
    const park = run.attempt >= maxAttempts;
    const now = this.clock.now();
    const nextAt = now + backoffDelay(run.attempt, retryBaseDelayMs, maxRetryDelayMs);
    if (park) {
      this.logger.error(ZapierMessages.deliveryParked(run.runId, run.attempt, message));
    } else {
      this.logger.warn(
        ZapierMessages.deliveryRetrying(
          run.runId,
          run.attempt,
          message,
          Math.round((nextAt - now) / 1000),
        ),
      );
    }
    try {
      await this.outbox.markFailed(run.runId, this.options.instanceId, {
        error: message.slice(0, 2000),
        nextAt,
        park,
        now,
      });
    } catch (storeError) {
      // The claim runs out and the sweep retries the delivery: at least once still holds.
      this.outage.failed(storeError);
    }
  }

  private finish(runId: string): void {
    if (!this.active.delete(runId)) return;
    this.leases.release(runId);
    if (this.active.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    // Work left unclaimed while this instance was full: take some now that there is room.
    if (this.backlog && this.queue.length === 0 && !this.stopping) this.sweepSoon();
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
