#!/usr/bin/env node
// The `nestjs-zapier` bin (package.json "bin"): runs one command, then sets the exit code.
import { CommanderError } from 'commander';
import { CliError, CliExit } from './cli-exit.js';
import { createProgram } from './program.js';

async function main(): Promise<void> {
  try {
    await createProgram().parseAsync(process.argv);
    process.exitCode = CliExit.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed its message (or the help) already.
      process.exitCode = error.exitCode === 0 ? CliExit.ok : CliExit.usage;
    } else {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = error instanceof CliError ? error.exitCode : CliExit.failed;
    }
  }
}

// Not a top-level await: every module of the package stays loadable with require().
void main();
