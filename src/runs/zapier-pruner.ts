import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ZAPIER_CLOCK, ZAPIER_OPTIONS } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierRetentionRepository, type PruneKind } from '../storage/retention.repository.js';
import { ZapierTelemetry } from '../telemetry/zapier-telemetry.js';

/** What one pruning removed (or, in a dry run, would remove), by kind. @publicApi */
export interface ZapierPruneReport {
  dryRun: boolean;
  /** Completed runs whose event was delivered, past `retention.deliveredMs`. */
  delivered: number;
  /** Expired runs whose event was delivered, past `retention.expiredMs`. */
  expired: number;
  /** Parked runs past `retention.parkedMs` (0 while it is `null`). */
  parked: number;
  /** Quarantined bodies past `retention.quarantineMs`. */
  quarantined: number;
}

/**
 * Most batches of one kind in one pruning, so that a first pruning of a large backlog leaves the
 * database to other work between passes; the next pass goes on where this one stopped.
 */
const MAX_BATCHES_PER_KIND = 200;

/** Deletes what the retention options no longer keep, in small batches. */
@Injectable()
export class ZapierPruner {
  private readonly logger = new Logger('ZapierStorage');

  constructor(
    private readonly retention: ZapierRetentionRepository,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
    @Optional() private readonly telemetry: ZapierTelemetry = ZapierTelemetry.disabled,
  ) {}

  async prune(dryRun = false): Promise<ZapierPruneReport> {
    const now = this.clock.now();
    const kept = this.options.retention;
    const ages: Array<[PruneKind, number | null]> = [
      ['delivered', kept.deliveredMs],
      ['expired', kept.expiredMs],
      ['parked', kept.parkedMs],
      ['quarantined', kept.quarantineMs],
    ];
    const report: ZapierPruneReport = {
      dryRun,
      delivered: 0,
      expired: 0,
      parked: 0,
      quarantined: 0,
    };
    for (const [kind, age] of ages) {
      if (age === null) continue;
      report[kind] = dryRun
        ? await this.retention.count(kind, now - age)
        : await this.pruneKind(kind, now - age);
    }
    const removed = ages.filter(([kind]) => report[kind] > 0);
    if (!dryRun && removed.length > 0) {
      this.logger.log(
        ZapierMessages.pruned(removed.map(([kind]) => `${report[kind]} ${kind}`).join(', ')),
      );
    }
    return report;
  }

  private async pruneKind(kind: PruneKind, before: number): Promise<number> {
    const { batchSize } = this.options.retention;
    let total = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_KIND; batch++) {
      const removed = await this.retention.prune(kind, before, batchSize);
      total += removed;
      this.telemetry.pruned(kind, removed);
      if (removed < batchSize) break;
    }
    return total;
  }
}
