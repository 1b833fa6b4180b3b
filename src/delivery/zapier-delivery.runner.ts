import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { ZAPIER_CLOCK, ZAPIER_OPTIONS } from '../zapier.constants.js';
import { ZAPIER_HOST, type ZapierHost } from '../zapier-host.provider.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { backoffDelay } from '../common/backoff.js';
import { OutageLog } from '../common/outage-log.js';
import type { DispatchableRun } from '../storage/stored-run.js';
import { ZapierRunStore } from '../storage/zapier-run.store.js';
import { buildRunEvent } from './build-run-event.js';

/** How long finished deliveries may wait to be recorded together, and how many at most. */
const RECORD_DELAY_MS = 20;
const RECORD_BATCH = 250;

/**
 * Delivers run events to listeners at least once, with the run row as the outbox.
 *
 * A run reaches the dispatcher already claimed by this instance (right after its result was
 * committed, or by the sweep). It is emitted with `emitAsync`, so a listener that throws (and
 * whose errors are not suppressed, see `ZapierListenerInspector`) makes the attempt fail; the run
 * is then retried with backoff, and parked after `maxAttempts`. While a delivery runs, this
 * instance renews its claim, so a slow listener is not redelivered elsewhere; a dead instance's
 * claims run out after `leaseMs` and the sweep of any instance takes them over.
 */
@Injectable()
export class ZapierDispatcher implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ZapierDelivery');
  private readonly outage = new OutageLog(this.logger, 'Recording event deliveries');
  private readonly queue: DispatchableRun[] = [];
  private readonly running = new Set<string>();
  /** Delivered, but not yet recorded as such (the database may be briefly unreachable). */
  private readonly unrecorded = new Set<string>();
  private recordScheduled = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private sweeping = false;
  private stopping = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly store: ZapierRunStore,
    @Inject(ZAPIER_HOST) private readonly host: ZapierHost,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
  ) {}

  /** Runs claimed by this instance whose delivery is due now. */
  enqueue(runs: readonly DispatchableRun[]): void {
    if (runs.length === 0) return;
    if (this.stopping) {
      // Claimed but never started: hand them back so another instance delivers them now.
      void this.store
        .releaseDispatchClaims(
          runs.map((run) => run.runId),
          this.options.instanceId,
        )
        .catch(() => undefined);
      return;
    }
    this.queue.push(...runs);
    this.startHeartbeat();
    // After the current I/O phase, so the 2xx of the callbacks that stored these runs goes out
    // before any listener code runs.
    setImmediate(() => this.pump());
  }

  /**
   * Claims due deliveries and runs them: at startup, on the schedule, and when a create call
   * released a delivery that was waiting for its metadata.
   */
  async sweep(): Promise<void> {
    if (this.sweeping || this.stopping) return;
    this.sweeping = true;
    try {
      await this.host.readiness?.waitUntilReady();
      const room = this.options.delivery.concurrency * 2 - this.queue.length - this.running.size;
      if (room <= 0) return;
      const now = this.clock.now();
      const runs = await this.store.claimDueDispatches(
        {
          now,
          instanceId: this.options.instanceId,
          claimUntil: now + this.options.delivery.leaseMs,
        },
        room,
        this.options.delivery.maxAttempts,
      );
      this.outage.succeeded();
      for (const run of runs.filter((claimed) => claimed.parked)) {
        this.logger.error(
          `Run ${run.runId}: delivery was cut short ${run.attempt} times (the process stopped mid-delivery); parked as undeliverable. Re-drive it with ZapierRunsService.redeliver('${run.runId}').`,
        );
      }
      this.enqueue(runs.filter((claimed) => !claimed.parked));
    } catch (error) {
      this.outage.failed(error);
    } finally {
      this.sweeping = false;
    }
  }

  /** Resolves when nothing is queued, running or waiting to be recorded (tests, shutdown). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    const queued = this.queue.splice(0).map((run) => run.runId);
    await this.store.releaseDispatchClaims(queued, this.options.instanceId).catch(() => undefined);
    // Deliveries already running finish (their listeners are mid-flight); their claims are
    // renewed meanwhile, and released by the database's lease if the process dies instead.
    const deadline = this.clock.now() + this.options.delivery.leaseMs;
    while ((this.running.size > 0 || this.unrecorded.size > 0) && this.clock.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (this.unrecorded.size > 0 && this.running.size === 0) await this.recordDelivered();
    }
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private pump(): void {
    while (this.queue.length > 0 && this.running.size < this.options.delivery.concurrency) {
      const run = this.queue.shift() as DispatchableRun;
      if (this.running.has(run.runId) || this.unrecorded.has(run.runId)) continue;
      this.running.add(run.runId);
      void this.deliver(run).finally(() => {
        this.running.delete(run.runId);
        this.pump();
        this.notifyIfIdle();
      });
    }
  }

  private async deliver(run: DispatchableRun): Promise<void> {
    await this.host.readiness?.waitUntilReady();
    const { name, event } = buildRunEvent(run);
    try {
      await this.host.events.emitAsync(name, event);
    } catch (error) {
      await this.recordFailure(run, error);
      return;
    }
    this.unrecorded.add(run.runId);
    this.scheduleRecord();
  }

  private async recordFailure(run: DispatchableRun, error: unknown): Promise<void> {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const { maxAttempts, retryBaseDelayMs, maxRetryDelayMs } = this.options.delivery;
    const park = run.attempt >= maxAttempts;
    const now = this.clock.now();
    const nextAt = now + backoffDelay(run.attempt, retryBaseDelayMs, maxRetryDelayMs);
    if (park) {
      this.logger.error(
        `Run ${run.runId}: listeners failed ${run.attempt} times (last: ${message}); parked as undeliverable. Re-drive it with ZapierRunsService.redeliver('${run.runId}').`,
      );
    } else {
      this.logger.warn(
        `Run ${run.runId}: a listener failed on attempt ${run.attempt} (${message}); retrying in ${Math.round((nextAt - now) / 1000)} s.`,
      );
    }
    try {
      await this.store.markDeliveryFailed(run.runId, this.options.instanceId, {
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

  /**
   * Deliveries are recorded in bulk, up to `RECORD_DELAY_MS` after they finished: one UPDATE (and
   * one commit) for a few hundred runs rather than one per batch of callbacks. Until recorded,
   * a delivered run stays claimed (and renewed) by this instance; if the process dies in that
   * window the run is delivered again, which at-least-once allows.
   */
  private scheduleRecord(): void {
    if (this.unrecorded.size >= RECORD_BATCH) {
      void this.recordDelivered();
      return;
    }
    if (this.recordScheduled) return;
    this.recordScheduled = true;
    setTimeout(() => {
      this.recordScheduled = false;
      void this.recordDelivered();
    }, RECORD_DELAY_MS).unref();
  }

  /** Marks delivered runs; on failure they are retried by the heartbeat. */
  private async recordDelivered(): Promise<void> {
    const runIds = [...this.unrecorded].slice(0, RECORD_BATCH);
    if (runIds.length === 0) return;
    try {
      await this.store.markDelivered(runIds, this.options.instanceId, this.clock.now());
      runIds.forEach((runId) => this.unrecorded.delete(runId));
      this.outage.succeeded();
      if (this.unrecorded.size > 0) this.scheduleRecord();
    } catch (error) {
      this.outage.failed(error);
    }
    this.notifyIfIdle();
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(
      () => void this.beat(),
      Math.max(50, this.options.delivery.leaseMs / 3),
    );
    this.heartbeat.unref();
  }

  /** Renews the claims this instance still works on, and retries recording deliveries. */
  private async beat(): Promise<void> {
    if (this.unrecorded.size > 0) await this.recordDelivered();
    const held = [...this.queue.map((run) => run.runId), ...this.running, ...this.unrecorded];
    if (held.length === 0) {
      if (!this.stopping) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
      return;
    }
    try {
      const now = this.clock.now();
      await this.store.renewDispatchClaims(
        held,
        this.options.instanceId,
        now + this.options.delivery.leaseMs,
      );
    } catch (error) {
      this.outage.failed(error);
    }
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.running.size === 0 && this.unrecorded.size === 0;
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }
}
