import type { Command } from 'commander';
import type { ZapierRetentionOptions } from '../../interfaces/zapier-module-options.interface.js';
import { dataSourceOption, jsonOption } from '../cli-options.js';
import { cliOutput, table } from '../cli-output.js';
import { parseDuration, parsePositiveInteger } from '../cli-values.js';
import { withStorage } from '../with-storage.js';

interface PruneOptions {
  dataSource: string;
  json?: boolean;
  dryRun?: boolean;
  delivered?: number;
  expired?: number;
  parked?: number;
  quarantine?: number;
  batchSize?: number;
}

const KINDS = ['delivered', 'expired', 'parked', 'quarantined'] as const;

/**
 * `prune`: what the app's scheduled retention does, once, with the same ages (the module's
 * defaults unless given: pass your app's `retention` options here too).
 */
export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description(
      'delete delivered and expired runs, parked runs and quarantined bodies older than their retention, in small batches',
    )
    .addOption(dataSourceOption())
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .option(
      '--delivered <age>',
      'completed runs delivered longer ago (default 30d; at least 7d)',
      parseDuration,
    )
    .option(
      '--expired <age>',
      'expired runs delivered longer ago (default 30d; at least 7d)',
      parseDuration,
    )
    .option(
      '--parked <age>',
      'parked runs parked longer ago (default: kept until re-driven)',
      parseDuration,
    )
    .option(
      '--quarantine <age>',
      'quarantined bodies received longer ago (default 7d)',
      parseDuration,
    )
    .option('--batch-size <n>', 'rows per statement (default 500)', parsePositiveInteger)
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nSafe while the app runs and while other instances prune: each row is deleted once, and a run\nre-driven meanwhile is kept.',
    )
    .action(async (options: PruneOptions) => {
      const out = cliOutput(options.json === true);
      const retention: ZapierRetentionOptions = {
        deliveredMs: options.delivered,
        expiredMs: options.expired,
        parkedMs: options.parked ?? null,
        quarantineMs: options.quarantine,
        batchSize: options.batchSize,
      };
      await withStorage(
        options.dataSource,
        async ({ runs }) => {
          const report = await runs.prune({ dryRun: options.dryRun === true });
          out.result(report, () =>
            [
              report.dryRun ? 'Would delete (dry run):' : 'Deleted:',
              table(
                KINDS.map((kind) => ({ kind, rows: report[kind] })),
                [
                  { heading: 'KIND', cell: (row) => row.kind },
                  { heading: 'ROWS', cell: (row) => String(row.rows) },
                ],
              ),
            ].join('\n'),
          );
        },
        retention,
      );
    });
}
