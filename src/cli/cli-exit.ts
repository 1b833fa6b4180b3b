/**
 * The CLI's exit codes, documented in its `--help` and the README. Scripts can tell a run that
 * is not there (3) from one in the wrong state (4) from a database that did not answer (1).
 */
export const CliExit = {
  /** Done. */
  ok: 0,
  /** Failed: the database (or, for send-callback, the app or the sandbox) did not do it. */
  failed: 1,
  /** Usage: an unknown command or option, a bad value, or an unusable data source file. */
  usage: 2,
  /** No run or quarantined callback has that id. */
  notFound: 3,
  /** The run is not in a state the command works on. */
  notApplicable: 4,
} as const;

export type CliExitCode = (typeof CliExit)[keyof typeof CliExit];

/** The exit codes as `--help` lists them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  done
  1  failed: the database (or, for send-callback, the app or the sandbox) did not do it
  2  usage: unknown command or option, a bad value, or an unusable data source file
  3  not found: no run or quarantined callback has that id
  4  not applicable: the run is not in a state the command works on`;

/** Ends a command with a message on stderr and an exit code other than 0. */
export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    message: string,
    readonly exitCode: Exclude<CliExitCode, 0>,
  ) {
    super(message);
  }
}
