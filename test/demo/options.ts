import { parseArgs } from 'node:util';
import { DEMO_OVERDUE_AFTER_MS, DEMO_RETENTION_MS } from './demo.module.js';

/** What one demo run is asked to do, from flags and environment variables. */
export interface DemoOptions {
  /** Action runs to start. */
  runs: number;
  /** Share of runs whose callback Zapier never sends (recovered by polling), 0 to 1. */
  loss: number;
  /** A database server to store runs in instead of a temporary SQLite file. */
  database: DemoDatabase | undefined;
  /** Requests a minute the module may send; the sandbox enforces the same limit. */
  budget: number;
  /** Create calls in flight at once. */
  concurrency: number;
  /** Port of the app on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Keep serving after the summary, for `curl`. */
  serve: boolean;
  /** Show the app's logs at every level. */
  verbose: boolean;
}

/** A database server, from its URL's scheme: TypeORM's `type` and the URL. */
export interface DemoDatabase {
  type: 'postgres' | 'mariadb' | 'mysql';
  url: string;
}

const SCHEMES: Record<string, DemoDatabase['type']> = {
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mariadb:': 'mariadb',
  'mysql:': 'mysql',
};

/** The result of reading the command line: options to run with, help to print, or a mistake. */
export type ParsedDemoArgs =
  | { kind: 'run'; options: DemoOptions }
  | { kind: 'help'; text: string }
  | { kind: 'error'; message: string };

const DEFAULTS = { runs: 50, loss: 0.1, budget: 3000, concurrency: 8, port: 0 } as const;

export const DEMO_HELP = `Usage: npm start -- [options]      (or: node out/test/demo/main.js [options])

Runs a small Nest app that imports ZapierModule the way the README's quick start does, against
a local Zapier sandbox (nothing leaves 127.0.0.1). It starts a mix of action runs through
ZapierClient: most succeed, some fail with Zapier error codes, some get their callback twice,
one gets it before the create call has returned, some never get one and are recovered by the
poller, and one never finishes and expires. It then checks that every run produced exactly one
event and prints a summary.

Options (environment variable in brackets; a flag wins over its variable):
  --runs <n>          action runs to start, 1 to 10000 [DEMO_RUNS] (default ${DEFAULTS.runs})
  --loss <rate>       share of runs whose callback is never sent, 0 to 1 [DEMO_LOSS]
                      (default ${DEFAULTS.loss}); the poller recovers them about ${DEMO_OVERDUE_AFTER_MS / 1000} s later
  --database <url>    store runs in PostgreSQL (postgres://postgres@127.0.0.1:5432/demo),
                      MariaDB or MySQL (mariadb://root@127.0.0.1:3306/demo, or mysql://...)
                      instead of a temporary SQLite file [DEMO_DATABASE_URL]; the database
                      must exist: PostgreSQL's tables are created with synchronize, MariaDB's
                      and MySQL's with the shipped migration
  --budget <n>        requests a minute the module may send, creates and polls together; the
                      sandbox answers 429 above it [DEMO_BUDGET] (default ${DEFAULTS.budget}; Zapier
                      itself allows 60, so the module's own default is 50)
  --concurrency <n>   create calls in flight at once, 1 to 64 (default ${DEFAULTS.concurrency})
  --port <n>          port of the app on 127.0.0.1 [DEMO_PORT] (default: a free one)
  --serve             keep serving after the summary and print a curl command that sends a
                      signed callback; stop with Ctrl-C
  --verbose           show the app's logs at every level (default: warnings and errors)
  -h, --help          show this help

To keep the demo short, the poller treats a run as overdue after ${DEMO_OVERDUE_AFTER_MS / 1000} s (default 5 min) and Zapier's
7-day retention is shortened to ${DEMO_RETENTION_MS / 1000} s.

Exit code: 0 when every run was accounted for exactly once, 1 otherwise (the summary lists what
went wrong), 2 for a mistake on the command line, 130 when interrupted.
`;

/** Reads flags (and their environment variables) into {@link DemoOptions}. */
export function parseDemoArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedDemoArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        runs: { type: 'string' },
        loss: { type: 'string' },
        database: { type: 'string' },
        budget: { type: 'string' },
        concurrency: { type: 'string' },
        port: { type: 'string' },
        serve: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return { kind: 'error', message: (error as Error).message };
  }
  if (values.help) return { kind: 'help', text: DEMO_HELP };
  try {
    const database = databaseOf(values.database ?? (env.DEMO_DATABASE_URL || undefined));
    return {
      kind: 'run',
      options: {
        runs: integer('--runs', values.runs ?? env.DEMO_RUNS, DEFAULTS.runs, 1, 10_000),
        loss: rate('--loss', values.loss ?? env.DEMO_LOSS, DEFAULTS.loss),
        database,
        budget: integer('--budget', values.budget ?? env.DEMO_BUDGET, DEFAULTS.budget, 1, 100_000),
        concurrency: integer('--concurrency', values.concurrency, DEFAULTS.concurrency, 1, 64),
        port: integer('--port', values.port ?? env.DEMO_PORT, DEFAULTS.port, 0, 65_535),
        serve: values.serve,
        verbose: values.verbose,
      },
    };
  } catch (error) {
    return { kind: 'error', message: (error as Error).message };
  }
}

function databaseOf(url: string | undefined): DemoDatabase | undefined {
  if (url === undefined) return undefined;
  const scheme = /^[a-z]+:/i.exec(url)?.[0].toLowerCase();
  const type = scheme === undefined ? undefined : SCHEMES[scheme];
  if (type === undefined) {
    throw new Error(
      `--database must be a postgres://, mariadb:// or mysql:// URL, got "${url}"; for example postgres://postgres@127.0.0.1:5432/demo.`,
    );
  }
  return { type, url };
}

function integer(
  flag: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${flag} must be a whole number from ${min} to ${max}, got "${raw}".`);
  }
  return value;
}

function rate(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error(`${flag} must be a number from 0 to 1 (a share of runs), got "${raw}".`);
  }
  return value;
}
