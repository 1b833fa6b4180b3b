import type { Command } from 'commander';
import { CliError, CliExit } from '../cli-exit.js';
import { CliMessages } from '../cli.messages.js';
import { dataSourceOption, jsonOption } from '../cli-options.js';
import { cliOutput } from '../cli-output.js';
import { parsePositiveInteger } from '../cli-values.js';
import { quarantineDetails, quarantineJson, quarantineTable } from '../run-views.js';
import { withStorage } from '../with-storage.js';

interface StorageOptions {
  dataSource: string;
  json?: boolean;
}

/** `quarantine list | show`. */
export function registerQuarantineCommands(program: Command): void {
  const quarantine = program
    .command('quarantine')
    .description(
      'signed callbacks that were not run results (their bodies are kept; the runs stay pending for the poller)',
    );

  quarantine
    .command('list')
    .description('list quarantined callbacks, newest first')
    .addOption(dataSourceOption())
    .option('--limit <n>', 'most callbacks listed', parsePositiveInteger, 50)
    .addOption(jsonOption())
    .action(async (options: StorageOptions & { limit: number }) => {
      const out = cliOutput(options.json === true);
      await withStorage(options.dataSource, async ({ runs }) => {
        const entries = await runs.findQuarantined(options.limit);
        out.result(
          entries.map((entry) => quarantineJson(entry, { rawBody: false })),
          () => quarantineTable(entries),
        );
      });
    });

  quarantine
    .command('show')
    .description('show one quarantined callback, its body included')
    .argument('<id>', 'its id, from quarantine list', parsePositiveInteger)
    .addOption(dataSourceOption())
    .addOption(jsonOption())
    .addHelpText('after', '\nExits 3 if the database holds no such callback.')
    .action(async (id: number, options: StorageOptions) => {
      const out = cliOutput(options.json === true);
      await withStorage(options.dataSource, async ({ runs }) => {
        const entry = await runs.findQuarantine(id);
        if (!entry) throw new CliError(CliMessages.quarantineNotFound(id), CliExit.notFound);
        out.result(quarantineJson(entry, { rawBody: true }), () => quarantineDetails(entry));
      });
    });
}
