import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZapierClient } from '../../src/index.js';
import { ZapierSandbox } from '../../src/testing/index.js';
import { DemoListener, type HeardEvent } from './demo-listener.service.js';
import { DemoLogger } from './demo-logger.js';
import { DemoModule, type DemoModuleConfig } from './demo.module.js';
import type { DemoDatabase, DemoOptions } from './options.js';
import { Progress, type ProgressSnapshot } from './progress.js';
import { outcomeFor, planRuns, type PlannedRun, type ScenarioName } from './scenario.js';
import { analyseDemo, formatSummary, type DemoReport } from './summary.js';

type Output = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** Where the demo prints: progress and summary to `stdout`, mistakes to `stderr`. */
export interface DemoIo {
  stdout: Output;
  stderr: Output;
}

/** What Zapier is told to call back; the sandbox delivers it to the app on 127.0.0.1. */
const PUBLIC_CALLBACK_URL = 'https://zapier-demo.example.com/zapier/callbacks';
/** A per-lookup action id and a connection id, as `GET /v2/actions` would give them. */
const ACTION_ID = 'core:slack-send-channel-message';
const CONNECTION_ID = 'demo-slack-connection';
/** After the last event, callbacks still in flight (duplicates) get this long to land. */
const SETTLE_MS = 400;

/**
 * Runs the demo: starts the sandbox and the app, starts every planned run through
 * `ZapierClient`, waits until each is heard, closes everything and prints the summary.
 *
 * @returns the process exit code: 0 when every run was accounted for exactly once.
 */
export async function runDemo(
  options: DemoOptions,
  io: DemoIo,
  signal: AbortSignal,
): Promise<number> {
  const startedAt = Date.now();
  const plan = planRuns(options.runs, options.loss);
  const logger = new DemoLogger(options.verbose);
  const storage = openStorage(options);
  let appOrigin: string | undefined;
  const sandbox = await ZapierSandbox.start({
    rateLimit: { perMinute: options.budget, cooldownMs: 60_000 },
    outcome: outcomeFor,
    callbackTarget: (url) => {
      if (appOrigin === undefined) throw new Error('the app is not listening yet');
      const { pathname, search } = new URL(url);
      return `${appOrigin}${pathname}${search}`;
    },
  });
  const started = new Map<string, PlannedRun>();
  const createErrors: Array<{ run: PlannedRun; message: string }> = [];
  let app: INestApplication | undefined;
  let listener: DemoListener | undefined;
  const progress = new Progress(
    io.stdout,
    () => snapshot(plan, started, createErrors.length, listener?.heard ?? []),
    startedAt,
  );
  let gaveUpAfterMs: number | null = null;
  let report: DemoReport | undefined;
  const finish = () => {
    report = analyseDemo({
      planned: plan,
      started,
      createErrors,
      heard: listener?.heard ?? [],
      requests: sandbox.requests,
      deliveries: sandbox.deliveries,
      completedAt: new Map(
        [...started.keys()].map((id) => [id, sandbox.run(id)?.completedAt ?? null]),
      ),
      rateLimited: sandbox.rateLimited,
      budget: options.budget,
      elapsedMs: Date.now() - startedAt,
      gaveUpAfterMs,
      logWarnings: logger.warnings,
      logErrors: logger.errors,
    });
    io.stdout.write(formatSummary(report, summaryTitle(options)));
  };

  try {
    const config: DemoModuleConfig = {
      database: storage.database,
      accessToken: sandbox.accessToken ?? 'sandbox-token',
      apiBaseUrl: sandbox.url,
      jwksUrl: sandbox.jwksUrl,
      callbackUrl: PUBLIC_CALLBACK_URL,
      maxRequestsPerMinute: options.budget,
    };
    app = await NestFactory.create(DemoModule.forRoot(config), { logger, abortOnError: false });
    await app.listen(options.port, '127.0.0.1');
    const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
    appOrigin = `http://127.0.0.1:${port}`;
    const demoListener = app.get(DemoListener);
    listener = demoListener;
    printHeader(io.stdout, options, plan, appOrigin, sandbox.url, storage.label);

    logger.progress = progress;
    progress.start();
    await startRuns(
      app.get(ZapierClient),
      plan,
      options.concurrency,
      started,
      createErrors,
      signal,
    );
    const heard = demoListener.heard;
    const allHeard = () => [...started.keys()].every((id) => heard.some((e) => e.runId === id));
    const timeoutMs = 30_000 + Math.ceil((options.runs * 3 * 60_500) / options.budget);
    if (!(await waitUntil(allHeard, timeoutMs, signal)) && !signal.aborted) {
      gaveUpAfterMs = Date.now() - startedAt;
    }
    await settle(sandbox, signal);
    progress.stop();
    logger.progress = undefined;
    if (signal.aborted) return interrupted(io);

    if (options.serve) {
      finish();
      await serve(io.stdout, sandbox, demoListener, appOrigin, signal);
    }
  } catch (error) {
    progress.stop();
    logger.progress = undefined;
    io.stderr.write(`The demo could not run: ${describeError(error)}\n`);
    return 1;
  } finally {
    await app?.close().catch((error: unknown) => {
      io.stderr.write(`Closing the app failed: ${describeError(error)}\n`);
    });
    await sandbox.stop();
    storage.remove();
  }
  if (signal.aborted && !options.serve) return interrupted(io);
  // Without --serve, the summary comes after app.close(): a late duplicate event would count.
  if (!report) finish();
  return report && report.problems.length === 0 ? 0 : 1;
}

function openStorage(options: DemoOptions): {
  database: DemoModuleConfig['database'];
  label: string;
  remove(): void;
} {
  if (options.database) {
    const url = new URL(options.database.url);
    if (url.password) url.password = '***';
    return {
      database: options.database,
      label: `${STORE_NAMES[options.database.type]} ${url.toString()}`,
      remove: () => undefined,
    };
  }
  const file = join(mkdtempSync(join(tmpdir(), 'nestjs-zapier-demo-')), 'zapier.db');
  return {
    database: { sqliteFile: file },
    label: `SQLite ${file} (deleted at the end)`,
    remove: () => rmSync(dirname(file), { recursive: true, force: true }),
  };
}

/** Starts the planned runs through the client, `concurrency` create calls at a time. */
async function startRuns(
  client: ZapierClient,
  plan: readonly PlannedRun[],
  concurrency: number,
  started: Map<string, PlannedRun>,
  createErrors: Array<{ run: PlannedRun; message: string }>,
  signal: AbortSignal,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < plan.length && !signal.aborted) {
      const run = plan[next++];
      try {
        const { id } = await client.createActionRun({
          action: ACTION_ID,
          authentication: CONNECTION_ID,
          inputs: run.inputs,
          metadata: run.metadata,
        });
        started.set(id, run);
      } catch (error) {
        createErrors.push({ run, message: describeError(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.length) }, worker));
}

/** Resolves `true` once `done()` holds, `false` on timeout or abort. */
async function waitUntil(
  done: () => boolean,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (signal.aborted || Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

/** Waits until no callback delivery has started for {@link SETTLE_MS} (at most 5 s). */
async function settle(sandbox: ZapierSandbox, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 5000;
  let seen = -1;
  while (!signal.aborted && Date.now() < deadline && seen !== sandbox.deliveries.length) {
    seen = sandbox.deliveries.length;
    await sleep(SETTLE_MS);
  }
}

/** `--serve`: prints a signed curl command and echoes events until Ctrl-C. */
async function serve(
  out: Output,
  sandbox: ZapierSandbox,
  listener: DemoListener,
  appOrigin: string,
  signal: AbortSignal,
): Promise<void> {
  const token = await sandbox.signer.sign();
  const body = JSON.stringify({
    data: {
      type: 'run',
      id: 'arun_from_curl',
      status: 'success',
      results: [{ hello: 'world' }],
      errors: [],
    },
  });
  out.write(
    [
      '',
      `Still serving at ${appOrigin} (Ctrl-C to stop). Send Zapier's callback yourself:`,
      '',
      `  curl -i ${appOrigin}/zapier/callbacks \\`,
      `    -H 'content-type: application/json' \\`,
      `    -H 'zapier-callback-signature: ${token}' \\`,
      `    --data '${body}'`,
      '',
      'The signature is valid for 5 minutes. The app answers 200 with',
      '{"runId":"arun_from_curl","duplicate":false} and its listener hears zapier.run.completed',
      '(metadata null: the demo did not start that run).',
      'Send it again for "duplicate":true and no event; drop the header for a 401.',
      `The sandbox's keys are at ${sandbox.jwksUrl}.`,
      '',
    ].join('\n'),
  );
  const unsubscribe = listener.subscribe((event: HeardEvent) => {
    out.write(
      `heard ${event.name} for ${event.runId} via ${event.source ?? '-'} (attempt ${event.attempt}, metadata ${JSON.stringify(event.metadata)})\n`,
    );
  });
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  unsubscribe();
  out.write('Stopping.\n');
}

function snapshot(
  plan: readonly PlannedRun[],
  started: ReadonlyMap<string, PlannedRun>,
  createErrors: number,
  heard: readonly HeardEvent[],
): ProgressSnapshot {
  const ours = heard.filter((e) => started.has(e.runId));
  return {
    planned: plan.length,
    started: started.size,
    createErrors,
    heard: new Set(ours.map((e) => e.runId)).size,
    completed: ours.filter((e) => e.name === 'zapier.run.completed').length,
    failed: ours.filter((e) => e.name === 'zapier.run.failed').length,
    expired: ours.filter((e) => e.name === 'zapier.run.expired').length,
    viaPoll: ours.filter((e) => e.source === 'poll').length,
  };
}

function printHeader(
  out: Output,
  options: DemoOptions,
  plan: readonly PlannedRun[],
  appOrigin: string,
  sandboxUrl: string,
  storage: string,
): void {
  const mix = new Map<ScenarioName, number>();
  for (const run of plan) mix.set(run.scenario, (mix.get(run.scenario) ?? 0) + 1);
  const mixText = [...mix].map(([name, n]) => `${n} ${name}`).join(', ');
  out.write(
    [
      `nestjs-zapier demo: ${plan.length} action runs through ZapierClient, against a local Zapier sandbox`,
      `  app     ${appOrigin}  (Zapier calls back ${PUBLIC_CALLBACK_URL}, mapped here)`,
      `  zapier  ${sandboxUrl}  (sandbox; ${options.budget} requests/min allowed, module budget the same)`,
      `  store   ${storage}`,
      `  mix     ${mixText}  (loss ${options.loss})`,
      '',
    ].join('\n'),
  );
}

const STORE_NAMES: Record<DemoDatabase['type'], string> = {
  postgres: 'PostgreSQL',
  mariadb: 'MariaDB',
  mysql: 'MySQL',
};

function summaryTitle(options: DemoOptions): string {
  const store = options.database ? STORE_NAMES[options.database.type] : 'SQLite';
  return `Summary (${options.runs} runs, loss ${options.loss}, ${store}):`;
}

function interrupted(io: DemoIo): number {
  io.stderr.write('Interrupted: the app and the sandbox were closed.\n');
  return 130;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
  return `${error.name}: ${error.message}${cause}`;
}
