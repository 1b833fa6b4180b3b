import type { Command } from 'commander';
import { dataSourceOption, jsonOption } from '../cli-options.js';
import { cliOutput } from '../cli-output.js';
import { withStorage } from '../with-storage.js';

/** `migrate`: the module's own migrations, `ZAPIER_MIGRATIONS`. */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description(
      "create or update the module's tables: runs the migrations it ships (ZAPIER_MIGRATIONS) that have not run yet",
    )
    .addOption(dataSourceOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      "\nOnly the module's own migrations run, recorded in your data source's migrations table, so listing\nZAPIER_MIGRATIONS in your own data source later does not run them twice.",
    )
    .action(async (options: { dataSource: string; json?: boolean }) => {
      const out = cliOutput(options.json === true);
      await withStorage(options.dataSource, async ({ dataSource }) => {
        const executed = (await dataSource.runMigrations()).map((migration) => migration.name);
        out.result({ executed }, () =>
          executed.length === 0
            ? "The module's tables are up to date; no migration to run."
            : [`Ran ${executed.length} migration(s):`, ...executed.map((n) => `  ${n}`)].join('\n'),
        );
      });
    });
}
