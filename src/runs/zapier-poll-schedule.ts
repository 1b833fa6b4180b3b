import { Inject, Injectable } from '@nestjs/common';
import { ZAPIER_CLOCK, ZAPIER_OPTIONS } from '../zapier.constants.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { LeaseKeeper } from '../common/lease-keeper.js';
import { ZapierPollQueue } from '../storage/poll-queue.repository.js';
import type { OverdueRun } from '../storage/stored-run.js';

export type { OverdueRun } from '../storage/stored-run.js';

/**
 * When each pending run is read next, and which instance reads it. A run is claimed by one
 * instance at a time; its claim is renewed while the instance waits for a budget slot and for
 * Zapier's answer (both may take longer than the lease), and released when the run is
 * rescheduled, so only a dead instance's claims run out.
 */
@Injectable()
export class ZapierPollSchedule {
  private readonly leases: LeaseKeeper;

  constructor(
    private readonly queue: ZapierPollQueue,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
  ) {
    this.leases = new LeaseKeeper(options.polling.leaseMs, clock, (ids, until) =>
      this.queue.renewClaims(ids, options.instanceId, until),
    );
  }

  /** Claims the overdue run due first, if any, and holds it while `read` runs. */
  async readNext<T>(read: (run: OverdueRun) => Promise<T>): Promise<{ value: T } | null> {
    const now = this.clock.now();
    const [run] = await this.queue.claimDue(
      { now, instanceId: this.options.instanceId, claimUntil: this.leases.claimUntil() },
      1,
    );
    if (!run) return null;
    return { value: await this.leases.while(run.runId, () => read(run)) };
  }

  /** Sets the run's next read (and releases this instance's claim on it). */
  reschedule(
    run: OverdueRun,
    update: { nextAt: number; attempts: number; lastError: string | null },
  ): Promise<void> {
    return this.queue.reschedule(run.runId, this.options.instanceId, {
      ...update,
      now: this.clock.now(),
    });
  }

  /**
   * Parks a run whose result cannot be stored, with the reason: it is not read again (so it
   * cannot hold up the runs due after it) until `ZapierRunsService.repoll()`.
   */
  park(run: OverdueRun, reason: string): Promise<void> {
    return this.queue.park(run.runId, this.options.instanceId, {
      attempts: run.pollAttempts + 1,
      reason,
      now: this.clock.now(),
    });
  }

  /** Releases every claim of this instance (a round starts clean; shutdown). */
  releaseAll(): Promise<void> {
    return this.queue.releaseAll(this.options.instanceId);
  }
}
