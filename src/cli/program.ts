import { createRequire } from 'node:module';
import { Command } from 'commander';
import { EXIT_CODES_HELP } from './cli-exit.js';
import { registerMigrateCommand } from './commands/migrate.command.js';
import { registerPruneCommand } from './commands/prune.command.js';
import { registerQuarantineCommands } from './commands/quarantine.command.js';
import { registerRunsCommands } from './commands/runs.command.js';
import { registerSandboxCommand } from './commands/sandbox.command.js';
import { registerSendCallbackCommand } from './commands/send-callback.command.js';

const { version } = createRequire(import.meta.url)('nestjs-zapier/package.json') as {
  version: string;
};

/**
 * The `nestjs-zapier` command line. Settings made here before the commands are registered
 * (errors thrown rather than exiting, help after a usage error) are inherited by every command
 * created with `.command()`; a new command is one more `register*Command(program)` line.
 */
export function createProgram(): Command {
  const program = new Command('nestjs-zapier')
    .description(
      'Look after the Zapier action runs nestjs-zapier stores (in the database your TypeORM data source names), and develop against a local Zapier.',
    )
    .version(version)
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n`);
  registerRunsCommands(program);
  registerQuarantineCommands(program);
  registerPruneCommand(program);
  registerMigrateCommand(program);
  registerSandboxCommand(program);
  registerSendCallbackCommand(program);
  return program;
}
