import { afterEach, describe } from 'node:test';
import type { DataSource, DataSourceOptions } from 'typeorm';
import { ZapierActionRun } from '../../src/storage/zapier-action-run.entity.js';
import { ZapierApiBudget } from '../../src/storage/zapier-api-budget.entity.js';
import { ZAPIER_ENTITIES } from '../../src/storage/zapier-storage.entities.js';
import { ZapierClient } from '../../src/client/zapier.client.js';
import type { ZapierModuleOptions } from '../../src/interfaces/zapier-module-options.interface.js';
import type { ZapierClock } from '../../src/interfaces/zapier-clock.interface.js';
import { ZapierOverdueRunPoller } from '../../src/poller/zapier-overdue-run.poller.js';
import { ZapierSandbox } from '../../src/testing/zapier-sandbox.js';
import type {
  SandboxRequestRecord,
  ZapierSandboxOptions,
} from '../../src/testing/zapier-sandbox.interfaces.js';
import { freshDatabase, type Engine, type EngineSkips } from './data-sources.js';
import { startZapierApp, type ZapierApp } from './zapier-app.js';

/** The public callback URL the tests give Zapier; the sandbox maps it to the app. */
export const PUBLIC_CALLBACK_URL = 'https://hooks.example.com/zapier/callbacks';

/**
 * A clock shared by the module (`ZAPIER_CLOCK`) and the sandbox (`now`): real time plus an
 * offset the test moves forward, so days pass without waiting. Timers stay real.
 */
export class TestClock implements ZapierClock {
  offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  advance(ms: number): void {
    this.offset += ms;
  }
}

/** A sandbox whose callbacks go to the app registered later with `target.url`. */
export async function startSandbox(
  options: Omit<ZapierSandboxOptions, 'callbackTarget'> = {},
): Promise<{ sandbox: ZapierSandbox; target: { url: string | null } }> {
  const target: { url: string | null } = { url: null };
  const sandbox = await ZapierSandbox.start({
    rateLimit: false,
    ...options,
    callbackTarget: () => {
      if (target.url === null) throw new Error('no app listens yet');
      return `${target.url}/zapier/callbacks`;
    },
  });
  return { sandbox, target };
}

/** A Zapier app wired to a sandbox, with the services the poller tests drive. */
export interface PollerApp extends ZapierApp {
  client: ZapierClient;
  poller: ZapierOverdueRunPoller;
}

/**
 * Boots the app against the sandbox. By default the poller never ticks on its own (call
 * `poller.tick()`), nothing is overdue for a minute, and the request budget is out of the way;
 * each test overrides what it exercises.
 */
export async function startPollerApp(options: {
  sandbox: ZapierSandbox;
  database: DataSourceOptions;
  clock?: ZapierClock;
  zapier?: ZapierModuleOptions;
}): Promise<PollerApp> {
  const { sandbox, zapier = {} } = options;
  const app = await startZapierApp({
    adapter: 'express',
    database: options.database,
    clock: options.clock,
    zapier: {
      apiBaseUrl: sandbox.url,
      jwksUrl: sandbox.jwksUrl,
      accessToken: sandbox.accessToken ?? 'any',
      callbackUrl: PUBLIC_CALLBACK_URL,
      requestTimeoutMs: 5_000,
      ...zapier,
      polling: {
        intervalMs: 3_600_000,
        overdueAfterMs: 60_000,
        maxRequestsPerMinute: 60_000,
        initialBackoffMs: 100,
        maxBackoffMs: 2_000,
        ...zapier.polling,
      },
      delivery: { sweepIntervalMs: 100, ...zapier.delivery },
    },
  });
  return {
    ...app,
    client: app.app.get(ZapierClient),
    poller: app.app.get(ZapierOverdueRunPoller),
  };
}

/** A row of `zapier_action_runs` with numbers as numbers and JSON parsed. */
export interface RunRow {
  runId: string;
  status: string;
  action: string | null;
  metadata: Record<string, unknown> | null;
  results: unknown;
  source: string | null;
  expiredReason: string | null;
  submittedAt: number | null;
  receivedAt: number | null;
  createdAt: number;
  pollNextAt: number | null;
  pollAttempts: number;
  pollClaimedBy: string | null;
  pollLastError: string | null;
  deliveryState: string;
  rawPayload: string | null;
}

const time = (value: Date | null): number | null => (value === null ? null : value.getTime());

export async function readRun(dataSource: DataSource, runId: string): Promise<RunRow | undefined> {
  const rows = await readRuns(dataSource, runId);
  return rows[0];
}

/** Runs as stored, read through the entity (so no column list is kept here). */
export async function readRuns(dataSource: DataSource, runId?: string): Promise<RunRow[]> {
  const runs = await dataSource.getRepository(ZapierActionRun).find({
    where: runId === undefined ? {} : { runId },
    order: { createdAt: 'ASC', runId: 'ASC' },
  });
  return runs.map((run) => ({
    runId: run.runId,
    status: run.status,
    action: run.action,
    metadata: run.metadata,
    results: run.results,
    source: run.source,
    expiredReason: run.expiredReason,
    submittedAt: time(run.submittedAt),
    receivedAt: time(run.receivedAt),
    createdAt: run.createdAt.getTime(),
    pollNextAt: time(run.pollNextAt),
    pollAttempts: run.pollAttempts,
    pollClaimedBy: run.pollClaimedBy,
    pollLastError: run.pollLastError,
    deliveryState: run.deliveryState,
    rawPayload: run.rawPayload,
  }));
}

/** The budget row (`zapier_api_budget`), or `undefined` before the first request. */
export async function readBudget(
  dataSource: DataSource,
): Promise<{ nextSlotAt: number; cooldownUntil: number } | undefined> {
  const [row] = await dataSource.getRepository(ZapierApiBudget).find();
  return row && { nextSlotAt: Number(row.nextSlotAt), cooldownUntil: Number(row.cooldownUntil) };
}

/** The polls (`GET /v2/action-runs/{id}`) the sandbox saw, for one run or all. */
export function polls(sandbox: ZapierSandbox, runId?: string): SandboxRequestRecord[] {
  return sandbox.requests.filter(
    (request) =>
      request.method === 'GET' &&
      (runId === undefined
        ? request.path.startsWith('/v2/action-runs/')
        : request.path === `/v2/action-runs/${runId}`),
  );
}

/** The creates (`POST /v2/action-runs/`) the sandbox saw. */
export function creates(sandbox: ZapierSandbox): SandboxRequestRecord[] {
  return sandbox.requests.filter((request) => request.method === 'POST');
}

/** Polls until `check` holds, or fails after `timeoutMs` with `what` in the message. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Largest number of timestamps inside any window `[t, t + windowMs)`. */
export function maxInWindow(timestamps: readonly number[], windowMs: number): number {
  const sorted = [...timestamps].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end] - sorted[start] >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A plain data source on a database the module migrated, for reading rows after an app closed. */
/** A data source of its own on the module's database (another process's view), with its entities. */
export async function openDataSource(options: DataSourceOptions): Promise<DataSource> {
  const { DataSource: DataSourceClass } = await import('typeorm');
  return new DataSourceClass({ ...options, entities: ZAPIER_ENTITIES }).initialize();
}

/** What one test starts: a sandbox, a fresh database, and an app wired to both. */
export interface CaseOptions {
  sandbox?: Omit<ZapierSandboxOptions, 'callbackTarget'>;
  /** The module's options, or a function of the sandbox that returns them. */
  zapier?:
    | ZapierModuleOptions
    | ((sandbox: ZapierSandbox) => ZapierModuleOptions | Promise<ZapierModuleOptions>);
  /** Shared by the module and the sandbox. */
  clock?: TestClock;
}

/**
 * Returns a `setup()` that starts a sandbox, a fresh database of `engine` (named
 * `${prefix}_${engine}_${n}`) and an app, registering their teardown in `cleanups`.
 */
/**
 * One `describe` per engine of `engines` (a server skipped, with a visible notice, only when it
 * does not answer outside CI: pass what `engineSkipReasons()` returns), whose tests start what
 * they need through `setup()` and have it torn down after each test.
 */
export function describeOnEachEngine(
  title: string,
  prefix: string,
  skips: EngineSkips,
  body: (
    setup: ReturnType<typeof caseFactory>,
    engine: Engine,
    cleanups: Array<() => Promise<void> | void>,
  ) => void,
  engines: readonly Engine[] = ['sqlite', 'postgres'],
): void {
  for (const engine of engines) {
    void describe(`${title} (${engine})`, { skip: skips[engine] }, () => {
      const cleanups: Array<() => Promise<void> | void> = [];
      afterEach(async () => {
        for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      });
      body(caseFactory(engine, prefix, cleanups), engine, cleanups);
    });
  }
}

export function caseFactory(
  engine: Engine,
  prefix: string,
  cleanups: Array<() => Promise<void> | void>,
): (options?: CaseOptions) => Promise<{ sandbox: ZapierSandbox; zapier: PollerApp }> {
  let seq = 0;
  return async (options = {}) => {
    const { clock } = options;
    const { sandbox, target } = await startSandbox({
      ...(clock ? { now: () => clock.now() } : {}),
      ...options.sandbox,
    });
    cleanups.push(() => sandbox.stop());
    const db = await freshDatabase(engine, `${prefix}_${engine}_${++seq}`);
    cleanups.push(db.cleanup);
    const zapier = await startPollerApp({
      sandbox,
      database: db.options,
      clock,
      zapier: typeof options.zapier === 'function' ? await options.zapier(sandbox) : options.zapier,
    });
    cleanups.push(() => zapier.close());
    target.url = zapier.url;
    return { sandbox, zapier };
  };
}

export const MINUTE = 60_000;
export const DAY = 24 * 60 * MINUTE;
/** Polling on its own every 25 ms; runs are overdue 300 ms after submission. */
export const FAST_POLLING = { intervalMs: 25, overdueAfterMs: 300 };
