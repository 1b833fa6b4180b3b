import { Option, type Command } from 'commander';
import type { ZapierRunError } from '../../interfaces/action-run.interface.js';
import type { SandboxDelivery } from '../../testing/zapier-sandbox.interfaces.js';
import { SANDBOX_CALLBACKS_PATH } from '../../testing/sandbox-control.js';
import { CliError, CliExit } from '../cli-exit.js';
import { CliMessages } from '../cli.messages.js';
import { jsonOption } from '../cli-options.js';
import { cliOutput, table } from '../cli-output.js';
import { formatDuration, parseHttpUrl, parseJson } from '../cli-values.js';
import { DEFAULT_SANDBOX_PORT, DEFAULT_SANDBOX_TOKEN } from './sandbox.command.js';

/** The environment variable `--sandbox` falls back to. */
export const SANDBOX_URL_ENV = 'NESTJS_ZAPIER_SANDBOX_URL';

interface SendOptions {
  url: string;
  run: string;
  status: 'success' | 'error';
  results?: unknown;
  errors?: unknown;
  sandbox: string;
  token: string;
  json?: boolean;
}

/** What a failed run carries unless `--errors` says otherwise. */
const DEFAULT_ERRORS: ZapierRunError[] = [
  { code: 'user', title: 'Failed', detail: 'Sent by nestjs-zapier send-callback.' },
];

/**
 * `send-callback`: has the running sandbox sign a callback with its keys and deliver it, with
 * Zapier's retries, as `stripe trigger` has Stripe send an event. The private keys never leave
 * the sandbox's process: it does the signing, on its own route (see `sandbox-control.ts`).
 */
export function registerSendCallbackCommand(program: Command): void {
  program
    .command('send-callback')
    .description(
      "send a callback signed with the running sandbox's keys to your app, with Zapier's retries",
    )
    .requiredOption(
      '--url <url>',
      "your app's callback route, e.g. http://127.0.0.1:3000/zapier/callbacks",
      parseHttpUrl,
    )
    .requiredOption('--run <id>', 'the run id the callback reports on')
    .addOption(
      new Option('--status <status>', 'how the run ended')
        .choices(['success', 'error'])
        .makeOptionMandatory(),
    )
    .option(
      '--results <json>',
      'results of a successful run, an array or an object (default [])',
      parseJson,
    )
    .option('--errors <json>', 'errors of a failed run (default: one "user" error)', parseJson)
    .addOption(
      new Option('--sandbox <url>', 'the running sandbox')
        .argParser(parseHttpUrl)
        .env(SANDBOX_URL_ENV)
        .default(`http://127.0.0.1:${DEFAULT_SANDBOX_PORT}`),
    )
    .option('--token <token>', "the sandbox's access token", DEFAULT_SANDBOX_TOKEN)
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Your app must take its jwksUrl from that sandbox (nestjs-zapier sandbox prints it).
Exits 0 once the app answered 2xx, 1 if it never did (or no sandbox answered).`,
    )
    .action(async (options: SendOptions) => {
      const out = cliOutput(options.json === true);
      const deliveries = await requestCallback(options);
      const accepted = isAccepted(deliveries.at(-1));
      out.result({ accepted, deliveries }, () => attemptsTable(deliveries));
      if (!accepted) {
        throw new CliError(
          CliMessages.callbackNotAccepted(options.url, deliveries.length),
          CliExit.failed,
        );
      }
    });
}

async function requestCallback(options: SendOptions): Promise<SandboxDelivery[]> {
  const endpoint = new URL(SANDBOX_CALLBACKS_PATH, options.sandbox).toString();
  const callback = {
    id: options.run,
    status: options.status,
    ...(options.results === undefined ? {} : { results: options.results }),
    errors: options.errors ?? (options.status === 'error' ? DEFAULT_ERRORS : []),
  };
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
      body: JSON.stringify({ url: options.url, callback }),
    });
  } catch (error) {
    const cause = (error as Error & { cause?: { code?: string } }).cause?.code ?? String(error);
    throw new CliError(CliMessages.sandboxUnreachable(options.sandbox, cause), CliExit.failed);
  }
  const body = (await response.json().catch(() => null)) as {
    deliveries?: SandboxDelivery[];
    errors?: Array<{ detail?: string }>;
  } | null;
  if (response.status !== 200 || !Array.isArray(body?.deliveries)) {
    const detail = body?.errors?.[0]?.detail ?? 'not a sandbox answer';
    throw new CliError(
      CliMessages.sandboxRefused(options.sandbox, response.status, detail),
      // Its 400 names the option that was wrong; anything else is a sandbox that is not ours.
      response.status === 400 ? CliExit.usage : CliExit.failed,
    );
  }
  return body.deliveries;
}

function isAccepted(delivery: SandboxDelivery | undefined): boolean {
  return delivery?.status !== undefined && delivery.status >= 200 && delivery.status < 300;
}

function attemptsTable(deliveries: readonly SandboxDelivery[]): string {
  return table(deliveries, [
    { heading: 'ATTEMPT', cell: (delivery) => String(delivery.attempt) },
    { heading: 'URL', cell: (delivery) => delivery.url, maxWidth: 60 },
    { heading: 'ANSWER', cell: (delivery) => String(delivery.status ?? delivery.error ?? '-') },
    {
      heading: 'TOOK',
      cell: (delivery) => formatDuration(delivery.finishedAt - delivery.startedAt),
    },
  ]);
}
