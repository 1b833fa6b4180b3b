import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ZapierModule } from '../src/zapier.module.js';
import { ZAPIER_MIGRATIONS } from '../src/storage/migrations/index.js';
import { ZAPIER_ENTITIES } from '../src/storage/zapier-storage.entities.js';
import { ZapierSql } from '../src/storage/sql/zapier-sql.js';
import { ZapierRunIntake } from '../src/storage/run-intake.repository.js';
import { ZapierSandbox } from '../src/testing/index.js';
import type { BenchDatabase, DatabaseName } from './support/bench-messages.js';
import { freshBenchDatabase, typeormOptions } from './support/bench-databases.js';
import { EventCounter, TRACK_EVENT_IDS } from './support/event-counter.js';
import { median } from './support/latency-recorder.js';
import { HELP, parseBenchArgs } from './support/bench-options.js';
import { isEntryPoint } from './support/is-entry-point.js';

/**
 * The poller benchmark: a backlog of overdue runs (completed at the sandbox, which never calls
 * back) against a sandbox whose rate limit equals the module's `polling.maxRequestsPerMinute`.
 * Measures, from the first poll on, the budget utilisation, the 429s and the runs recovered.
 */

export interface PollerBenchOptions {
  seconds: number;
  /** `polling.maxRequestsPerMinute`, and the sandbox's limit. */
  budget: number;
  database: DatabaseName;
  /** Overdue runs to start with (default: 25% more than the budget allows in `seconds`). */
  backlog?: number;
}

export interface PollerResult {
  database: DatabaseName;
  budgetPerMinute: number;
  seconds: number;
  backlog: number;
  /** GETs the sandbox received in the window. */
  requests: number;
  /** From the first to the last poll of the window. */
  requestsPerMinute: number;
  /** requestsPerMinute ÷ budget. */
  utilisation: number;
  /** The most the budget's spacing allows: 60 s ÷ (60 s + its 500 ms margin). */
  spacingCeiling: number;
  rateLimited: number;
  recovered: number;
  recoveredPerMinute: number;
  /** Still pending at the end (must be > 0: the backlog lasted the whole window). */
  pendingAtEnd: number;
  medianGapMs: number;
  maxGapMs: number;
}

const WINDOW_MARGIN_MS = 500;
const RATE_WINDOW_MS = 60_000;

/**
 * Creates `count` runs at the sandbox through its HTTP API without tripping its rate limit: the
 * sandbox's clock (its documented `now` option) is set back by more than a minute per batch of
 * `perBatch` creates, and returned to real time afterwards, when they are all out of the window.
 */
async function createSandboxRuns(
  sandbox: ZapierSandbox,
  setSkew: (ms: number) => void,
  count: number,
  perBatch: number,
): Promise<string[]> {
  const batches = Math.ceil(count / perBatch);
  const ids: string[] = [];
  for (let batch = 0; batch < batches; batch += 1) {
    setSkew(-(batches - batch + 1) * (RATE_WINDOW_MS + 1000));
    const size = Math.min(perBatch, count - ids.length);
    for (let i = 0; i < size; i += 25) {
      const created = await Promise.all(
        Array.from({ length: Math.min(25, size - i) }, async () => {
          const response = await fetch(`${sandbox.url}/v2/action-runs/`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${sandbox.accessToken ?? ''}`,
              'content-type': 'application/json',
            },
            body: JSON.stringify({
              data: { action: 'bench_action', authentication: null, inputs: { n: i } },
            }),
          });
          const body = (await response.json()) as { data?: { id?: string } };
          if (response.status !== 200 || !body.data?.id) {
            throw new Error(`The sandbox answered ${response.status} to a create.`);
          }
          return body.data.id;
        }),
      );
      ids.push(...created);
    }
  }
  setSkew(0);
  return ids;
}

/** Records the runs as submitted long ago and overdue, the way `ZapierClient` would have. */
async function recordOverdue(database: BenchDatabase, runIds: string[]): Promise<void> {
  const dataSource = new DataSource({
    ...(typeormOptions(database) as ConstructorParameters<typeof DataSource>[0]),
    entities: ZAPIER_ENTITIES,
    migrations: ZAPIER_MIGRATIONS,
    migrationsRun: true,
  });
  await dataSource.initialize();
  try {
    const intake = new ZapierRunIntake(new ZapierSql(dataSource));
    const now = Date.now();
    for (const runId of runIds) {
      await intake.recordSubmitted({
        runId,
        action: 'bench_action',
        metadata: null,
        submittedAt: now - 10 * 60_000,
        firstPollAt: now - 1000,
        now,
      });
    }
  } finally {
    await dataSource.destroy();
  }
}

export async function runPollerBench(options: PollerBenchOptions): Promise<PollerResult> {
  const backlog = options.backlog ?? Math.ceil((options.budget * options.seconds * 1.25) / 60) + 50;
  let skew = 0;
  const sandbox = await ZapierSandbox.start({
    now: () => Date.now() + skew,
    rateLimit: { perMinute: options.budget, cooldownMs: RATE_WINDOW_MS },
    outcome: () => ({
      status: 'success',
      results: [{ ok: true }],
      callback: 'never',
      delayMs: 0,
    }),
  });
  const store = await freshBenchDatabase(options.database, `poller_${process.pid}`);
  let app: INestApplicationContext | undefined;
  try {
    const runIds = await createSandboxRuns(
      sandbox,
      (ms) => (skew = ms),
      backlog,
      Math.max(1, options.budget - 1),
    );
    await sandbox.whenIdle();
    await recordOverdue(store.database, runIds);

    @Module({
      imports: [
        TypeOrmModule.forRoot({
          ...typeormOptions(store.database),
          autoLoadEntities: true,
          migrations: ZAPIER_MIGRATIONS,
          migrationsRun: true,
        }),
        EventEmitterModule.forRoot(),
        ScheduleModule.forRoot(),
        ZapierModule.forRoot({
          apiBaseUrl: sandbox.url,
          accessToken: sandbox.accessToken ?? undefined,
          jwksUrl: sandbox.jwksUrl,
          polling: { maxRequestsPerMinute: options.budget, intervalMs: 500 },
          registerController: false,
        }),
      ],
      providers: [EventCounter, { provide: TRACK_EVENT_IDS, useValue: true }],
    })
    class PollerBenchApp {}

    const requestsBefore = sandbox.requests.length;
    app = await NestFactory.createApplicationContext(PollerBenchApp, {
      logger: ['error', 'warn'],
    });
    await app.init();
    const counter = app.get(EventCounter);
    const polls = () => sandbox.requests.slice(requestsBefore).filter((r) => r.method === 'GET');
    while (polls().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const windowStart = polls()[0].at;
    const eventsAtStart = counter.events;
    await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
    const windowEnd = windowStart + options.seconds * 1000;
    const eventsAtEnd = counter.events;
    const inWindow = polls().filter((r) => r.at >= windowStart && r.at < windowEnd);
    const gaps = inWindow.slice(1).map((r, i) => r.at - inWindow[i].at);
    const dataSource = app.get<DataSource>(getDataSourceToken());
    const [pending] = await dataSource.query<Array<{ n: string | number }>>(
      `SELECT COUNT(*) AS n FROM zapier_action_runs WHERE status = 'pending'`,
    );
    const minutes = options.seconds / 60;
    // From the gaps (n polls, n - 1 gaps), so the window's two ends do not count one poll extra.
    const span = inWindow.length > 1 ? inWindow[inWindow.length - 1].at - inWindow[0].at : 0;
    const requestsPerMinute = span > 0 ? ((inWindow.length - 1) * 60_000) / span : 0;
    return {
      database: options.database,
      budgetPerMinute: options.budget,
      seconds: options.seconds,
      backlog,
      requests: inWindow.length,
      requestsPerMinute,
      utilisation: requestsPerMinute / options.budget,
      spacingCeiling: RATE_WINDOW_MS / (RATE_WINDOW_MS + WINDOW_MARGIN_MS),
      rateLimited: sandbox.rateLimited,
      recovered: eventsAtEnd - eventsAtStart,
      recoveredPerMinute: (eventsAtEnd - eventsAtStart) / minutes,
      pendingAtEnd: Number(pending.n),
      medianGapMs: median(gaps),
      maxGapMs: gaps.length > 0 ? Math.max(...gaps) : 0,
    };
  } finally {
    await app?.close();
    await sandbox.stop();
    await store.drop();
  }
}

export function formatPoller(result: PollerResult): string {
  const pct = (value: number) => `${(value * 100).toFixed(1)}%`;
  return [
    `Poller (${result.database}, budget ${result.budgetPerMinute}/min = sandbox limit, ${result.seconds} s from the first poll, backlog ${result.backlog}):`,
    `  ${result.requests} polls = ${result.requestsPerMinute.toFixed(1)}/min → utilisation ${pct(result.utilisation)} ` +
      `(target ≥ 90%; the budget's spacing allows at most ${pct(result.spacingCeiling)}); ` +
      `429s: ${result.rateLimited}; recovered ${result.recovered} runs = ${result.recoveredPerMinute.toFixed(1)}/min; ` +
      `still pending at the end ${result.pendingAtEnd}; gap between polls median ${result.medianGapMs} ms, max ${result.maxGapMs} ms.`,
  ].join('\n');
}

if (isEntryPoint(import.meta.url)) {
  const options = parseBenchArgs(process.argv.slice(2));
  if (!options) {
    process.stdout.write(HELP);
  } else {
    const result = await runPollerBench(options.poller);
    if (process.send) process.send({ type: 'result', result }, () => process.disconnect());
    else console.log(formatPoller(result));
  }
}
