import { Inject, Injectable, Logger } from '@nestjs/common';
import { ZAPIER_BUDGET_KEY, ZAPIER_CLOCK, ZAPIER_OPTIONS } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierValueRefusedError } from '../errors/zapier-storage.errors.js';
import { ZapierClaimedDeliveries } from '../storage/claimed-deliveries.js';
import { GroupCommit } from '../storage/group-commit.js';
import { ZapierOutbox } from '../storage/outbox.repository.js';
import {
  ZapierQuarantineRepository,
  type QuarantineEntry,
} from '../storage/quarantine.repository.js';
import { ZapierBudgetRepository } from '../storage/request-budget.repository.js';
import { ZapierRunIntake } from '../storage/run-intake.repository.js';
import { RateLimitedLog } from '../common/rate-limited-log.js';
import { refusedValue } from '../storage/sql/sql-refusals.js';
import type { DeliverableRun, DeliveryClaim, TerminalResult } from '../storage/stored-run.js';

/** Whether a result changed the run (`stored`) or the run was terminal already (`duplicate`). */
export type RecordOutcome = 'stored' | 'duplicate';

/** A run `ZapierClient` just created. */
export interface SubmittedRunInput {
  runId: string;
  action: string;
  metadata: Record<string, unknown> | null;
}

/** Runs expired per statement by the retention sweep. */
const EXPIRY_BATCH = 500;
/** Duplicates are compared with the stored outcome in one query per this many ms at most. */
const DUPLICATE_CHECK_LINGER_MS = 100;
/** Most results in one statement, and their most total payload (UTF-16 units, about bytes). */
const RESULT_BATCH_ITEMS = 200;
const RESULT_BATCH_WEIGHT = 16 * 1024 * 1024;
/**
 * Most results waiting for the database, and their most total payload: ten full batches, or four
 * batches' worth of payload (a lone result to an empty queue always goes, however large). Past
 * that the database is not keeping up, and a 503 now (Zapier retries) beats holding more bodies.
 */
const RESULT_QUEUE_ITEMS = 10 * RESULT_BATCH_ITEMS;
const RESULT_QUEUE_WEIGHT = 4 * RESULT_BATCH_WEIGHT;

/**
 * The one owner of a run's life: every state change goes through here, and here alone a state
 * change becomes outbox work for the delivery runner.
 *
 * - A terminal result, from a callback or a poll, is recorded through one group-committed path
 *   (see `GroupCommit`), so a callback and a poll racing for the same run still give one event.
 * - A run the client submitted is recorded pending, with its metadata.
 * - While a create call waits for its response, results of runs nobody has recorded are held
 *   back (the run may be that call's, and its event should carry the metadata); the last create
 *   call to finish releases them.
 * - Runs are expired past Zapier's retention, or when Zapier no longer knows them.
 * - A signed callback that is not a run result is quarantined.
 *
 * Whatever a statement claimed for this instance is handed to the delivery runner at once;
 * anything else waits in the outbox for a sweep. A statement claims only when the runner has room
 * for everything it may claim (`ZapierClaimedDeliveries.hasRoomFor`), so a runner whose listeners
 * hang does not keep new results to itself.
 */
@Injectable()
export class ZapierRunLifecycle {
  private readonly logger = new Logger('ZapierRuns');
  /** A signed sender (or a replayed token) can cause these on every request: rate-limited. */
  private readonly conflicts = new RateLimitedLog(this.logger);
  private readonly results: GroupCommit<TerminalResult, RecordOutcome>;
  /** Duplicates waiting to be compared with what is stored (a diagnostic, batched). */
  private readonly duplicates: GroupCommit<TerminalResult, void>;

  constructor(
    private readonly intake: ZapierRunIntake,
    private readonly outbox: ZapierOutbox,
    private readonly budget: ZapierBudgetRepository,
    private readonly quarantined: ZapierQuarantineRepository,
    private readonly deliveries: ZapierClaimedDeliveries,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
  ) {
    this.results = new GroupCommit((items) => this.writeResults(items), {
      // One batch at a time, on PostgreSQL too: under load, fewer and larger statements cost
      // less CPU per result (each statement is a round trip of its own) than concurrent ones.
      maxConcurrent: 1,
      maxItems: RESULT_BATCH_ITEMS,
      maxWeight: RESULT_BATCH_WEIGHT,
      maxQueued: RESULT_QUEUE_ITEMS,
      maxQueuedWeight: RESULT_QUEUE_WEIGHT,
      weight: (item) => item.rawPayload.length,
      // A value the database refuses fails its own result only; writeResults changes nothing
      // when its statement fails, so writing the halves again is safe.
      isolate: (error) => refusedValue(error) !== undefined,
    });
    this.duplicates = new GroupCommit((items) => this.reportConflicts(items), {
      maxConcurrent: 1,
      maxItems: 500,
      maxWeight: 500,
      weight: () => 1,
      lingerMs: DUPLICATE_CHECK_LINGER_MS,
    });
  }

  /**
   * Resolves once the result is committed (or was already). Rejects with
   * `ZapierValueRefusedError` when the database refused a value of this result (tried alone:
   * storing it again cannot work), with `ZapierWriteQueueFullError` at once when too many results
   * wait for the database already, and with the database's error otherwise.
   */
  async recordResult(result: TerminalResult): Promise<RecordOutcome> {
    try {
      return await this.results.submit(result);
    } catch (error) {
      throw asRefusal(error);
    }
  }

  /**
   * Records a run the client created, as pending with its metadata; its first poll is due once
   * it is overdue. If its callback was faster, the delivery held back for this metadata goes now.
   */
  async recordSubmitted(run: SubmittedRunInput): Promise<void> {
    const now = this.clock.now();
    const { deliveryReleased } = await this.intake.recordSubmitted({
      ...run,
      submittedAt: now,
      firstPollAt: now + this.options.polling.overdueAfterMs,
      now,
    });
    if (deliveryReleased) this.deliveries.signalDue();
  }

  /**
   * Records, for every instance, that a create call is about to wait for its response, so that
   * results of runs nobody has recorded wait for its metadata. At most for the request timeout
   * (plus a margin), should this process die before `finishCreate`.
   */
  async beginCreate(): Promise<void> {
    const now = this.clock.now();
    await this.budget.beginCreate(
      ZAPIER_BUDGET_KEY,
      now,
      now + this.options.requestTimeoutMs + 5_000,
    );
  }

  /**
   * Records that a create call is done (with its run recorded, or failed). The last one to
   * finish releases the results held back meanwhile. Never throws: the deadline `beginCreate`
   * set ends the hold anyway.
   */
  async finishCreate(): Promise<void> {
    try {
      if ((await this.budget.finishCreate(ZAPIER_BUDGET_KEY)) > 0) return;
      if ((await this.outbox.releaseHeld(this.clock.now())) > 0) this.deliveries.signalDue();
    } catch {
      // The hold's deadline releases them.
    }
  }

  /** Expires every pending run older than Zapier's retention; returns how many. */
  async expireRetained(): Promise<number> {
    let total = 0;
    for (;;) {
      const claim = this.deliveryClaim(EXPIRY_BATCH);
      const expired = await this.intake.expire(
        { createdBefore: claim.now - this.options.polling.retentionMs, limit: EXPIRY_BATCH },
        'retention',
        claim,
      );
      this.handOver(expired, claim);
      total += expired.length;
      if (expired.length < EXPIRY_BATCH) break;
    }
    if (total > 0) {
      this.logger.warn(ZapierMessages.runsExpired(total, this.options.polling.retentionMs));
    }
    return total;
  }

  /** Expires a pending run Zapier answers 404 for. */
  async expireNotFound(runId: string): Promise<void> {
    const claim = this.deliveryClaim(1);
    const expired = await this.intake.expire({ runIds: [runId] }, 'not-found', claim);
    this.handOver(expired, claim);
    if (expired.length > 0) {
      this.logger.warn(ZapierMessages.runExpiredNotFound(runId));
    }
  }

  /**
   * Keeps a signed callback that is not a run result; the run stays as it is. Rejects with
   * `ZapierValueRefusedError` when the database refuses a value of the entry.
   */
  async quarantine(entry: QuarantineEntry): Promise<void> {
    try {
      await this.quarantined.insert(entry);
    } catch (error) {
      throw asRefusal(error);
    }
  }

  /** This instance's claim for a statement that may create up to `count` deliveries. */
  private deliveryClaim(count: number): DeliveryClaim {
    const now = this.clock.now();
    if (!this.deliveries.hasRoomFor(count)) return { now, instanceId: null, claimUntil: null };
    return {
      now,
      instanceId: this.options.instanceId,
      claimUntil: now + this.options.delivery.leaseMs,
    };
  }

  /**
   * Hands what a statement claimed to the runner. What it left unclaimed (no room) is due now:
   * this instance's runner sweeps for it as soon as it has room, other instances on their sweep.
   */
  private handOver(runs: readonly DeliverableRun[], claim: DeliveryClaim): void {
    if (claim.instanceId !== null) this.deliveries.handOver(runs);
    else if (runs.length > 0) this.deliveries.signalDue();
  }

  private async writeResults(items: TerminalResult[]): Promise<RecordOutcome[]> {
    // One statement cannot touch a row twice (PostgreSQL refuses), so a run repeated within the
    // batch is written once; its repeats are duplicates by definition.
    const unique = new Map<string, TerminalResult>();
    for (const item of items) if (!unique.has(item.runId)) unique.set(item.runId, item);
    const claim = this.deliveryClaim(unique.size);
    const changed = await this.intake.storeTerminal([...unique.values()], claim, ZAPIER_BUDGET_KEY);
    const due = [...changed.values()].filter((run) => run.deliveryNextAt <= claim.now);
    this.handOver(due, claim);
    const outcomes = items.map((item): RecordOutcome =>
      unique.get(item.runId) === item && changed.has(item.runId) ? 'stored' : 'duplicate',
    );
    const repeated = items.filter((_item, i) => outcomes[i] === 'duplicate');
    for (const item of repeated) this.duplicates.submit(item).catch(() => undefined);
    return outcomes;
  }

  /**
   * A duplicate is normal (Zapier retries, a poll raced the callback); a duplicate with another
   * outcome is not, since the signature does not cover the body (docs/decisions.md#d9). The first
   * terminal state stays; the disagreement is logged. Runs after the answer, off the hot path, one
   * query for the duplicates of many batches.
   */
  private async reportConflicts(items: TerminalResult[]): Promise<void[]> {
    try {
      const stored = await this.intake.statuses(items.map((item) => item.runId));
      for (const item of items) {
        const status = stored.get(item.runId);
        if (status !== undefined && status !== item.status) {
          this.conflicts.warn('conflict', () =>
            ZapierMessages.conflictingResult(item.runId, status, item.source, item.status),
          );
        } else {
          this.logger.debug(ZapierMessages.duplicateResult(item.source, item.runId));
        }
      }
    } catch {
      // Only a diagnostic; the results themselves are safely stored.
    }
    return items.map(() => undefined);
  }
}

/** A write's error as `ZapierValueRefusedError` when a value it carried was refused. */
function asRefusal(error: unknown): unknown {
  const reason = refusedValue(error);
  return reason === undefined ? error : new ZapierValueRefusedError(reason, { cause: error });
}
