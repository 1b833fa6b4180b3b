import { Option, type Command } from 'commander';
import type { ZapierRunState } from '../../interfaces/action-run.interface.js';
import { ZAPIER_RUN_STATES } from '../../zapier.constants.js';
import { CliError, CliExit } from '../cli-exit.js';
import { CliMessages } from '../cli.messages.js';
import { dataSourceOption, jsonOption } from '../cli-options.js';
import { cliOutput } from '../cli-output.js';
import { parseDuration, parsePositiveInteger } from '../cli-values.js';
import { runDetails, runJson, runsTable } from '../run-views.js';
import { withStorage } from '../with-storage.js';

interface StorageOptions {
  dataSource: string;
  json?: boolean;
}

interface ListOptions extends StorageOptions {
  state?: ZapierRunState;
  since?: number;
  limit: number;
}

const STATES_HELP = `
States (each run is in the first that applies):
  parked      needs a person: its event failed delivery.maxAttempts times (runs redeliver),
              or the poller could not store its result (runs repoll)
  delivering  its event waits for delivery to your listeners, or for a retry
  expired     nobody will learn its outcome (past Zapier's retention, or unknown to Zapier)
  overdue     no result yet and its first poll came due: the callback is late, the poller is on it
  pending     started, no result yet, not overdue
  delivered   its event reached every listener`;

/** `runs list | show | redeliver | repoll`. */
export function registerRunsCommands(program: Command): void {
  const runs = program
    .command('runs')
    .description('list, inspect and repair the action runs the module stored');

  runs
    .command('list')
    .description('list runs, newest first')
    .addOption(dataSourceOption())
    .addOption(new Option('--state <state>', 'only runs in this state').choices(ZAPIER_RUN_STATES))
    .option(
      '--since <duration>',
      'only runs started (or first seen) within this long, e.g. 30m, 2h, 7d',
      parseDuration,
    )
    .option('--limit <n>', 'most runs listed', parsePositiveInteger, 50)
    .addOption(jsonOption())
    .addHelpText('after', STATES_HELP)
    .action(async (options: ListOptions) => {
      const out = cliOutput(options.json === true);
      await withStorage(options.dataSource, async ({ runs: service }) => {
        const now = Date.now();
        const listed = await service.listRuns({
          state: options.state,
          since: options.since === undefined ? undefined : new Date(now - options.since),
          limit: options.limit,
        });
        out.result(
          listed.map(({ run, state }) => runJson(run, state, { rawPayload: false })),
          () => runsTable(listed, now),
        );
      });
    });

  runs
    .command('show')
    .description('show everything stored about one run, its raw payload included')
    .argument('<run-id>', "Zapier's run id (arun_...)")
    .addOption(dataSourceOption())
    .addOption(jsonOption())
    .addHelpText('after', '\nExits 3 if the database holds no such run.')
    .action(async (runId: string, options: StorageOptions) => {
      const out = cliOutput(options.json === true);
      await withStorage(options.dataSource, async ({ runs: service }) => {
        const [run, state] = await Promise.all([service.findRun(runId), service.runState(runId)]);
        if (!run || !state) throw new CliError(CliMessages.runNotFound(runId), CliExit.notFound);
        out.result(runJson(run, state, { rawPayload: true }), () => runDetails(run, state));
      });
    });

  runs
    .command('redeliver')
    .description(
      "deliver a run's event to your listeners again, from attempt 1 (once the listener is fixed)",
    )
    .argument('[run-id]', 'the run; a parked or delivered one')
    .option('--parked', 'every parked run whose event failed delivery')
    .addOption(dataSourceOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nThe delivery sweep of any running instance of the app delivers it (within delivery.sweepIntervalMs).\nExits 3 if there is no such run, 4 if its event is not delivered or parked.',
    )
    .action(async (runId: string | undefined, options: StorageOptions & { parked?: boolean }) => {
      if (runId === undefined && options.parked !== true) {
        throw new CliError(CliMessages.redeliverWhich(), CliExit.usage);
      }
      if (runId !== undefined && options.parked === true) {
        throw new CliError(CliMessages.redeliverBoth(), CliExit.usage);
      }
      const out = cliOutput(options.json === true);
      await withStorage(options.dataSource, async ({ runs: service }) => {
        if (runId === undefined) {
          const queued = await service.redeliverParked();
          out.result({ queued }, () =>
            queued.length === 0
              ? 'No parked runs.'
              : [`Queued ${queued.length} parked runs for delivery again:`, ...queued].join('\n'),
          );
          return;
        }
        if (!(await service.redeliver(runId))) {
          const state = await service.runState(runId);
          if (state === null) throw new CliError(CliMessages.runNotFound(runId), CliExit.notFound);
          throw new CliError(CliMessages.notRedeliverable(runId, state), CliExit.notApplicable);
        }
        out.result({ queued: [runId] }, () => `Queued ${runId} for delivery again.`);
      });
    });

  runs
    .command('repoll')
    .description(
      'poll a run the poller parked again, at once and from attempt 1 (once the cause is fixed)',
    )
    .argument('<run-id>', 'the run; one whose polled result could not be stored')
    .addOption(dataSourceOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nThe poller of any running instance of the app polls it.\nExits 3 if there is no such run, 4 if the poller did not park it.',
    )
    .action(async (runId: string, options: StorageOptions) => {
      const out = cliOutput(options.json === true);
      await withStorage(options.dataSource, async ({ runs: service }) => {
        if (!(await service.repoll(runId))) {
          const state = await service.runState(runId);
          if (state === null) throw new CliError(CliMessages.runNotFound(runId), CliExit.notFound);
          throw new CliError(CliMessages.notRepollable(runId, state), CliExit.notApplicable);
        }
        out.result({ repolled: runId }, () => `${runId} will be polled again at once.`);
      });
    });
}
