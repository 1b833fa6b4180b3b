import { Option, type Command } from 'commander';
import type { ZapierSandbox } from '../../testing/zapier-sandbox.js';
import type {
  RunOutcome,
  SandboxDelivery,
  SandboxRequestRecord,
} from '../../testing/zapier-sandbox.interfaces.js';
import { CliError, CliExit } from '../cli-exit.js';
import { CliMessages } from '../cli.messages.js';
import { jsonOption } from '../cli-options.js';
import { printable } from '../cli-output.js';
import {
  formatDuration,
  parseDuration,
  parseHttpUrl,
  parseJson,
  parsePort,
  parsePositiveInteger,
} from '../cli-values.js';

/** Where the sandbox listens unless told otherwise: fixed, so an app's .env can name it once. */
export const DEFAULT_SANDBOX_PORT = 4747;
export const DEFAULT_SANDBOX_TOKEN = 'sandbox-token';

interface SandboxOptions {
  port: number;
  callbackTarget?: string;
  token: string;
  outcome: 'success' | 'error';
  results?: unknown;
  delay: number;
  callback: 'deliver' | 'never' | 'twice';
  rateLimit: number | false;
  json?: boolean;
}

/** `sandbox`: the local Zapier of `nestjs-zapier/testing`, on its own until Ctrl-C. */
export function registerSandboxCommand(program: Command): void {
  program
    .command('sandbox')
    .description(
      "serve a local Zapier for development: its JWKS, the action-runs API, and signed callbacks with Zapier's retries",
    )
    .addOption(
      new Option('--port <port>', 'port on 127.0.0.1 (0: any free port)')
        .argParser(parsePort)
        .default(DEFAULT_SANDBOX_PORT),
    )
    .option(
      '--callback-target <url>',
      "where callbacks really go, e.g. http://127.0.0.1:3000/zapier/callbacks (default: each run's own callback_url, such as a tunnel's)",
      parseHttpUrl,
    )
    .option('--token <token>', 'the access token its API expects', DEFAULT_SANDBOX_TOKEN)
    .addOption(
      new Option('--outcome <status>', 'how every run ends')
        .choices(['success', 'error'])
        .default('success'),
    )
    .option(
      '--results <json>',
      'the results of a successful run (default [{"ok": true}])',
      parseJson,
    )
    .addOption(
      new Option('--delay <duration>', 'how long a run takes before it ends')
        .argParser(parseDuration)
        .default(1000, '1s'),
    )
    .addOption(
      new Option(
        '--callback <mode>',
        'deliver each callback once, never (the poller must find the result), or twice',
      )
        .choices(['deliver', 'never', 'twice'])
        .default('deliver'),
    )
    .addOption(
      new Option('--rate-limit <n>', "API requests a minute before Zapier's 429")
        .argParser(parsePositiveInteger)
        .default(60),
    )
    .addOption(new Option('--no-rate-limit', 'never answer 429'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
It prints the apiBaseUrl, jwksUrl and accessToken to give ZapierModule, then one line per request and
callback (one JSON object per line with --json). Your app's callbackUrl must still be a public HTTPS
URL (any will do with --callback-target). nestjs-zapier send-callback signs a callback with its keys.
Ctrl-C stops it.`,
    )
    .action(async (options: SandboxOptions) => {
      const outcome: RunOutcome = {
        status: options.outcome,
        delayMs: options.delay,
        callback: options.callback,
        ...(options.outcome === 'success'
          ? { results: (options.results as RunOutcome['results']) ?? [{ ok: true }] }
          : {}),
      };
      const print = options.json === true ? jsonLines() : humanLines();
      // Loaded here, not with the command list: see with-storage.ts.
      const { ZapierSandbox } = await import('../../testing/zapier-sandbox.js');
      const sandbox = await ZapierSandbox.start({
        port: options.port,
        accessToken: options.token,
        callbackTarget: options.callbackTarget,
        outcome: () => outcome,
        rateLimit:
          options.rateLimit === false
            ? false
            : { perMinute: options.rateLimit, cooldownMs: 60_000 },
        onRequest: (request) => print.request(request),
        onDelivery: (delivery) => print.delivery(delivery),
      }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EADDRINUSE') throw error;
        throw new CliError(CliMessages.portInUse(options.port), CliExit.failed);
      });
      print.ready(sandbox, options, outcome);
      await stopped();
      await sandbox.stop();
      print.stopped();
    });
}

/** Resolves on the first Ctrl-C (SIGINT) or SIGTERM. */
function stopped(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

interface Printer {
  ready(sandbox: ZapierSandbox, options: SandboxOptions, outcome: RunOutcome): void;
  request(request: SandboxRequestRecord): void;
  delivery(delivery: SandboxDelivery): void;
  stopped(): void;
}

function jsonLines(): Printer {
  const line = (value: Record<string, unknown>) =>
    process.stdout.write(`${JSON.stringify(value)}\n`);
  return {
    ready: (sandbox, options) =>
      line({
        event: 'ready',
        ...sandbox.moduleOptions(),
        callbackTarget: options.callbackTarget ?? null,
      }),
    request: ({ method, path, status, runId }) =>
      line({ event: 'request', method, path, status, runId: runId ?? null }),
    delivery: ({ runId, attempt, url, status, error }) =>
      line({
        event: 'callback',
        runId,
        attempt,
        url,
        status: status ?? null,
        error: error ?? null,
      }),
    stopped: () => line({ event: 'stopped' }),
  };
}

function humanLines(): Printer {
  const line = (text: string) =>
    process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${printable(text)}\n`);
  return {
    ready: (sandbox, options, outcome) => {
      const { apiBaseUrl, jwksUrl, accessToken } = sandbox.moduleOptions();
      const ends =
        outcome.status === 'success'
          ? `success, results ${JSON.stringify(outcome.results)}`
          : 'error (one user error)';
      process.stdout.write(
        [
          `Zapier sandbox on ${sandbox.url} (Ctrl-C stops it)`,
          '',
          'ZapierModule options for your app:',
          `  apiBaseUrl:  ${apiBaseUrl}`,
          `  jwksUrl:     ${jwksUrl}`,
          `  accessToken: ${accessToken}`,
          '',
          `Callbacks go to: ${options.callbackTarget ?? "each run's own callback_url"}`,
          `Every run ends after ${formatDuration(options.delay)}: ${ends}; callback: ${options.callback}`,
          '',
        ].join('\n') + '\n',
      );
    },
    request: ({ method, path, status, runId }) =>
      line(`${method} ${path} ${status}${runId === undefined ? '' : `  ${runId}`}`),
    delivery: ({ runId, attempt, url, status, error }) =>
      line(`callback ${runId} -> ${url}: ${status ?? error ?? 'no answer'} (attempt ${attempt})`),
    stopped: () => line('stopped'),
  };
}
