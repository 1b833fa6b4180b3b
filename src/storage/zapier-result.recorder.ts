import { Inject, Injectable, Logger } from '@nestjs/common';
import { ZAPIER_BUDGET_KEY, ZAPIER_CLOCK, ZAPIER_OPTIONS } from '../zapier.constants.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierDispatcher } from '../delivery/zapier-delivery.runner.js';
import { GroupCommit } from './group-commit.js';
import type { TerminalResult } from './stored-run.js';
import { ZapierRunStore } from './zapier-run.store.js';

/** Whether a result changed the run (`stored`) or the run was terminal already (`duplicate`). */
export type RecordOutcome = 'stored' | 'duplicate';

/**
 * Stores terminal results from callbacks and polls through one path, so a callback and a poll
 * racing for the same run still produce one event. Results are group-committed: see
 * `GroupCommit`. The runs that changed are handed to the dispatcher once committed.
 */
@Injectable()
export class ZapierResultRecorder {
  private readonly logger = new Logger('ZapierCallback');
  private readonly batches: GroupCommit<TerminalResult, RecordOutcome>;

  constructor(
    private readonly store: ZapierRunStore,
    private readonly dispatcher: ZapierDispatcher,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
  ) {
    const sqlite = store.dialect.kind === 'sqlite';
    this.batches = new GroupCommit((items) => this.write(items), {
      maxConcurrent: sqlite ? 1 : 4,
      maxItems: 200,
      maxWeight: 16 * 1024 * 1024,
      weight: (item) => item.rawPayload.length,
    });
  }

  /** Resolves once the result is committed (or was already); rejects if it could not be. */
  record(result: TerminalResult): Promise<RecordOutcome> {
    return this.batches.submit(result);
  }

  /** Waits until every submitted result is written (shutdown). */
  drain(): Promise<void> {
    return this.batches.drain();
  }

  private async write(items: TerminalResult[]): Promise<RecordOutcome[]> {
    // One statement cannot touch a row twice (PostgreSQL refuses), so a run repeated within the
    // batch is written once; its repeats are duplicates by definition.
    const unique = new Map<string, TerminalResult>();
    for (const item of items) if (!unique.has(item.runId)) unique.set(item.runId, item);
    const now = this.clock.now();
    const changed = await this.store.storeTerminal(
      [...unique.values()],
      { now, instanceId: this.options.instanceId, claimUntil: now + this.options.delivery.leaseMs },
      ZAPIER_BUDGET_KEY,
    );
    this.dispatcher.enqueue([...changed.values()].filter((run) => run.dispatchNextAt <= now));
    const outcomes = items.map((item): RecordOutcome => {
      if (unique.get(item.runId) === item && changed.has(item.runId)) return 'stored';
      return 'duplicate';
    });
    const repeated = items.filter((_item, i) => outcomes[i] === 'duplicate');
    if (repeated.length > 0) void this.reportConflicts(repeated);
    return outcomes;
  }

  /**
   * A duplicate is normal (Zapier retries, a poll raced the callback); a duplicate with another
   * outcome is not, since the signature does not cover the body (ZAPIER.md decision 9). The first
   * terminal state stays; the disagreement is logged. Runs after the answer, off the hot path.
   */
  private async reportConflicts(items: TerminalResult[]): Promise<void> {
    try {
      const stored = await this.store.statuses(items.map((item) => item.runId));
      for (const item of items) {
        const status = stored.get(item.runId);
        if (status !== undefined && status !== item.status) {
          this.logger.warn(
            `Run ${item.runId} is already ${status}; ignored a later ${item.source} saying ${item.status}.`,
          );
        } else {
          this.logger.debug(`Duplicate ${item.source} result for run ${item.runId} absorbed.`);
        }
      }
    } catch {
      // Only a diagnostic; the results themselves are safely stored.
    }
  }
}
