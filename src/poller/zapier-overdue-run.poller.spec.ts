import assert from 'node:assert/strict';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { migratedDataSource } from '../../test/support/data-sources.js';
import { eventually, polls } from '../../test/support/zapier-harness.js';
import { ZapierRequestBudget } from '../budget/zapier-request-budget.js';
import { ZapierClient } from '../client/zapier.client.js';
import { ZapierHttp } from '../client/zapier-http.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ZapierModuleOptions } from '../interfaces/zapier-module-options.interface.js';
import { resolveZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierPollSchedule } from '../runs/zapier-poll-schedule.js';
import { ZapierRunLifecycle } from '../runs/zapier-run-lifecycle.js';
import { ZapierClaimedDeliveries } from '../storage/claimed-deliveries.js';
import { ZapierOutbox } from '../storage/outbox.repository.js';
import { ZapierPollQueue } from '../storage/poll-queue.repository.js';
import { ZapierQuarantineRepository } from '../storage/quarantine.repository.js';
import { ZapierBudgetRepository } from '../storage/request-budget.repository.js';
import { ZapierRunIntake } from '../storage/run-intake.repository.js';
import { ZapierSql } from '../storage/sql/zapier-sql.js';
import type { DeliverableRun } from '../storage/stored-run.js';
import { ZapierSandbox } from '../testing/zapier-sandbox.js';
import type { ZapierSandboxOptions } from '../testing/zapier-sandbox.interfaces.js';
import { ZAPIER_BUDGET_KEY, ZAPIER_POLLER_JOB } from '../zapier.constants.js';
import type { ZapierHost } from '../zapier-host.provider.js';
import { ZapierOverdueRunPoller } from './zapier-overdue-run.poller.js';
import { captureNestLogs, within } from '../../test/support/spec-context.js';
import { ZapierMessages } from '../zapier.messages.js';

const OVERDUE_MS = 60_000;
const INITIAL_BACKOFF_MS = 10_000;
const NOT_FOUND_GRACE_MS = 600_000;
const AUTH_PAUSE_MS = 120_000;

type Row = Record<string, unknown>;

const num = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

/** `now + base · 2^(n-1)` within the ±20% jitter. */
function assertBackoff(at: number, now: number, retry: number, base = INITIAL_BACKOFF_MS): void {
  const delay = at - now;
  const expected = base * 2 ** (retry - 1);
  assert.ok(
    delay >= expected * 0.8 && delay <= expected * 1.2,
    `next poll in ${delay} ms, expected ${expected} ms ±20%`,
  );
}

describe('ZapierOverdueRunPoller', () => {
  let dataSource: DataSource;
  let close: () => Promise<void>;
  let now: number;
  const clock: ZapierClock = { now: () => now };
  const logs = captureNestLogs();
  let databases = 0;
  let teardown: Array<() => Promise<void> | void>;

  beforeEach(async () => {
    now = 1_750_000_000_000;
    teardown = [];
    ({ dataSource, close } = await migratedDataSource('sqlite', `overdue_poller_${databases++}`));
  });
  afterEach(async () => {
    for (const step of teardown.reverse()) await step();
    await close();
  });

  /**
   * A sandbox on the test's clock and a poller wired to it as the module wires it, with what its
   * lifecycle hands over recorded instead of delivered.
   */
  async function setup(
    options: { sandbox?: ZapierSandboxOptions; zapier?: Partial<ZapierModuleOptions> } = {},
  ) {
    const sandbox = await ZapierSandbox.start({
      rateLimit: false,
      now: clock.now,
      ...options.sandbox,
    });
    teardown.push(() => sandbox.stop());
    const resolved = resolveZapierOptions({
      ...sandbox.moduleOptions(),
      instanceId: 'poller-1',
      requestTimeoutMs: 5_000,
      ...options.zapier,
      polling: {
        overdueAfterMs: OVERDUE_MS,
        initialBackoffMs: INITIAL_BACKOFF_MS,
        maxBackoffMs: 600_000,
        notFoundGraceMs: NOT_FOUND_GRACE_MS,
        authErrorPauseMs: AUTH_PAUSE_MS,
        cooldownMs: 60_000,
        // Slots 2 ms apart: the budget's spacing has its own spec.
        maxRequestsPerMinute: 60_000,
        ...options.zapier?.polling,
      },
    });
    const sql = new ZapierSql(dataSource);
    const budgetRows = new ZapierBudgetRepository(sql);
    const channel = new ZapierClaimedDeliveries();
    const handed: DeliverableRun[] = [];
    channel.subscribe({ claimed: (runs) => handed.push(...runs), due: () => undefined });
    const lifecycle = new ZapierRunLifecycle(
      new ZapierRunIntake(sql),
      new ZapierOutbox(sql),
      budgetRows,
      new ZapierQuarantineRepository(sql),
      channel,
      resolved,
      clock,
    );
    const budget = new ZapierRequestBudget(budgetRows, resolved, clock);
    const client = new ZapierClient(new ZapierHttp(resolved), budget, lifecycle, resolved, clock);
    const schedule = new ZapierPollSchedule(new ZapierPollQueue(sql), resolved, clock);
    const host: ZapierHost = {
      events: new EventEmitter2(),
      scheduler: new SchedulerRegistry(),
      readiness: undefined,
    };
    const poller = new ZapierOverdueRunPoller(client, lifecycle, schedule, host, resolved, clock);
    teardown.push(async () => {
      budget.beforeApplicationShutdown();
      await poller.beforeApplicationShutdown();
    });
    /** Starts a run at the sandbox through the client, which records it pending. */
    const create = async (metadata: Record<string, unknown> = {}) =>
      (await client.createActionRun({ action: 'act', authentication: null, inputs: {}, metadata }))
        .id;
    return { sandbox, poller, lifecycle, handed, create, budget, host };
  }

  async function runRow(runId: string): Promise<Row> {
    const [row] = await dataSource.query<Row[]>(
      `SELECT * FROM zapier_action_runs WHERE run_id = '${runId}'`,
    );
    assert.ok(row, `row ${runId} exists`);
    return row;
  }

  it('records the result Zapier has for an overdue run and hands it over once', async () => {
    const { sandbox, poller, handed, create } = await setup();
    sandbox.queueOutcome({
      status: 'success',
      results: [{ invoice: 7 }],
      delayMs: 0,
      callback: 'never',
    });
    const runId = await create({ orderId: 1 });
    await sandbox.whenIdle();
    assert.equal(sandbox.run(runId)?.status, 'success');

    now += OVERDUE_MS - 1;
    await poller.tick();
    assert.equal(polls(sandbox, runId).length, 0, 'not overdue yet');

    now += 1;
    await poller.tick();
    assert.equal(polls(sandbox, runId).length, 1);
    assert.equal(handed.length, 1);
    assert.equal(handed[0].runId, runId);
    assert.equal(handed[0].status, 'success');
    assert.equal(handed[0].source, 'poll');
    assert.deepEqual(handed[0].metadata, { orderId: 1 });
    assert.deepEqual(handed[0].results, [{ invoice: 7 }]);
    const row = await runRow(runId);
    assert.equal(row.status, 'success');
    assert.equal(row.source, 'poll');
    assert.equal(num(row.received_at), now);
    const raw = JSON.parse(String(row.raw_payload)) as { data: { status: string } };
    assert.equal(raw.data.status, 'success', 'the body as Zapier sent it');
    assert.equal(row.poll_next_at, null);
    assert.equal(row.poll_claimed_by, null);

    now += 24 * 60 * 60 * 1000;
    await poller.tick();
    assert.equal(polls(sandbox, runId).length, 1, 'a terminal run is never polled again');
    assert.equal(handed.length, 1);
  });

  it('drains every overdue run in one round, the one due first first', async () => {
    const { sandbox, poller, handed, create } = await setup();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      sandbox.queueOutcome({
        status: i === 1 ? 'error' : 'success',
        delayMs: 0,
        callback: 'never',
      });
      ids.push(await create({ i }));
      now += 1_000;
    }
    await sandbox.whenIdle();
    now += OVERDUE_MS;
    await poller.tick();
    assert.deepEqual(
      polls(sandbox).map((request) => request.path),
      ids.map((runId) => `/v2/action-runs/${runId}`),
    );
    assert.deepEqual(
      handed.map((run) => [run.runId, run.status]),
      [
        [ids[0], 'success'],
        [ids[1], 'error'],
        [ids[2], 'success'],
      ],
    );
  });

  it('reschedules a run that is still running with one more attempt and a backoff', async () => {
    const { sandbox, poller, handed, create } = await setup({
      sandbox: { pendingStyle: 'running' },
    });
    // Completes long after the test (the sandbox cancels it on stop).
    sandbox.queueOutcome({ status: 'success', delayMs: 3_600_000, callback: 'never' });
    const runId = await create();
    now += OVERDUE_MS;
    await poller.tick();
    assert.equal(polls(sandbox, runId).length, 1);
    let row = await runRow(runId);
    assert.equal(row.status, 'pending');
    assert.equal(num(row.poll_attempts), 1);
    assertBackoff(Number(row.poll_next_at), now, 1);
    assert.equal(row.poll_claimed_by, null);
    assert.equal(row.poll_claim_until, null);
    assert.equal(row.poll_last_error, null);

    await poller.tick();
    assert.equal(polls(sandbox, runId).length, 1, 'not polled again before its next time');

    now = Number(row.poll_next_at);
    await poller.tick();
    assert.equal(polls(sandbox, runId).length, 2);
    row = await runRow(runId);
    assert.equal(num(row.poll_attempts), 2);
    assertBackoff(Number(row.poll_next_at), now, 2);
    assert.equal(handed.length, 0);
  });

  it('reschedules a young run Zapier answers 404 for', async () => {
    const { sandbox, poller, lifecycle, handed } = await setup();
    await lifecycle.recordSubmitted({ runId: 'arun_unknown', action: 'act', metadata: null });
    now += OVERDUE_MS;
    await poller.tick();
    assert.equal(polls(sandbox, 'arun_unknown').length, 1);
    assert.equal(sandbox.requests.at(-1)?.status, 404);
    const row = await runRow('arun_unknown');
    assert.equal(row.status, 'pending');
    assert.equal(num(row.poll_attempts), 1);
    assertBackoff(Number(row.poll_next_at), now, 1);
    assert.match(String(row.poll_last_error), /404/);
    assert.equal(handed.length, 0);
  });

  it('expires a run Zapier answers 404 for once it is older than notFoundGraceMs', async () => {
    const { sandbox, poller, lifecycle, handed } = await setup();
    await lifecycle.recordSubmitted({ runId: 'arun_forgotten', action: 'act', metadata: { n: 3 } });
    now += NOT_FOUND_GRACE_MS;
    await poller.tick();
    assert.equal(polls(sandbox, 'arun_forgotten').length, 1);
    const row = await runRow('arun_forgotten');
    assert.equal(row.status, 'expired');
    assert.equal(row.expired_reason, 'not-found');
    assert.equal(row.poll_next_at, null);
    assert.deepEqual(
      handed.map((run) => [run.runId, run.status, run.expiredReason, run.metadata]),
      [['arun_forgotten', 'expired', 'not-found', { n: 3 }]],
    );
    assert.equal(logs.find('warn', ZapierMessages.runExpiredNotFound('arun_forgotten')).length, 1);

    now += NOT_FOUND_GRACE_MS;
    await poller.tick();
    assert.equal(polls(sandbox, 'arun_forgotten').length, 1, 'an expired run is not polled');
    assert.equal(handed.length, 1);
  });

  it('on a 429, starts the shared cooldown and leaves the run due', async () => {
    const { sandbox, poller, handed, create } = await setup({
      // The create takes the only request of the minute; the first poll is due at once.
      sandbox: { rateLimit: { perMinute: 1, cooldownMs: 60_000 } },
      zapier: { polling: { overdueAfterMs: 0 } },
    });
    sandbox.queueOutcome({
      status: 'success',
      results: [{ ok: 1 }],
      delayMs: 0,
      callback: 'never',
    });
    const runId = await create();
    await sandbox.whenIdle();

    await poller.tick();
    assert.equal(sandbox.rateLimited, 1);
    assert.deepEqual(
      polls(sandbox, runId).map((request) => request.status),
      [429],
    );
    const [budget] = await dataSource.query<Row[]>(
      `SELECT cooldown_until FROM zapier_api_budget WHERE budget_key = '${ZAPIER_BUDGET_KEY}'`,
    );
    assert.equal(num(budget.cooldown_until), now + 60_000, "Retry-After: 60 from Zapier's 429");
    const row = await runRow(runId);
    assert.equal(row.status, 'pending');
    assert.equal(num(row.poll_attempts), 0, 'a 429 costs no attempt');
    assert.equal(num(row.poll_next_at), now, 'still due');
    assert.equal(row.poll_claimed_by, null);
    assert.match(String(row.poll_last_error), /429/);
    assert.equal(logs.find('warn', /Zapier answered 429/).length, 1);
    assert.equal(handed.length, 0);

    now += 60_000;
    await poller.tick();
    assert.deepEqual(
      polls(sandbox, runId).map((request) => request.status),
      [429, 200],
    );
    assert.deepEqual(
      handed.map((run) => run.runId),
      [runId],
      'after the cooldown the run is polled and recorded',
    );
  });

  it('pauses polling after a 401 for authErrorPauseMs, logging one error', async () => {
    const { sandbox, poller, lifecycle, handed } = await setup({
      zapier: { accessToken: 'revoked-token' },
    });
    await lifecycle.recordSubmitted({ runId: 'arun_a', action: 'act', metadata: null });
    await lifecycle.recordSubmitted({ runId: 'arun_b', action: 'act', metadata: null });
    now += OVERDUE_MS;
    const pausedAt = now;

    await poller.tick();
    assert.deepEqual(
      polls(sandbox).map((request) => request.status),
      [401],
      'the round stops at the 401',
    );
    const refused = polls(sandbox)[0].path.split('/').at(-1) ?? '';
    const row = await runRow(refused);
    assert.equal(num(row.poll_next_at), pausedAt + AUTH_PAUSE_MS);
    assert.equal(num(row.poll_attempts), 0);
    assert.match(String(row.poll_last_error), /401/);
    const authErrors = () => logs.find('error', /refused the access token \(401\)/);
    assert.equal(authErrors().length, 1);
    assert.equal(authErrors()[0].context, 'ZapierPoller');

    await poller.tick();
    now += AUTH_PAUSE_MS - 1;
    await poller.tick();
    assert.equal(polls(sandbox).length, 1, 'nothing is polled during the pause');
    assert.equal(authErrors().length, 1, 'one error for the pause');

    now += 1;
    await poller.tick();
    assert.equal(polls(sandbox).length, 2, 'polling resumes after the pause');
    assert.equal(handed.length, 0);
  });

  it('with polling disabled, still expires runs past the retention but reads nothing', async () => {
    const { sandbox, poller, lifecycle, handed } = await setup({
      zapier: { polling: { enabled: false, retentionMs: 3_600_000 } },
    });
    await lifecycle.recordSubmitted({ runId: 'arun_old', action: 'act', metadata: null });
    now += OVERDUE_MS;
    await poller.tick();
    assert.equal(polls(sandbox).length, 0);
    now += 3_600_000;
    await poller.tick();
    assert.equal(polls(sandbox).length, 0);
    assert.deepEqual(
      handed.map((run) => [run.runId, run.status, run.expiredReason]),
      [['arun_old', 'expired', 'retention']],
    );
  });

  it('runs as a named interval, and on shutdown gives up a read waiting for the budget and releases its claim', async () => {
    const { sandbox, poller, lifecycle, budget, host } = await setup();
    poller.onApplicationBootstrap();
    assert.equal(host.scheduler.doesExist('interval', ZAPIER_POLLER_JOB), true);

    await lifecycle.recordSubmitted({ runId: 'arun_waiting', action: 'act', metadata: null });
    now += OVERDUE_MS;
    // A 429 elsewhere: the read waits for the cooldown's end (a real minute).
    await budget.cooldown(60_000);
    const round = poller.tick();
    await eventually(
      'the run claimed for its read',
      async () => (await runRow('arun_waiting')).poll_claimed_by === 'poller-1',
    );

    await within(poller.beforeApplicationShutdown(), 2_000, 'the poller shutdown');
    await round;
    assert.equal(host.scheduler.doesExist('interval', ZAPIER_POLLER_JOB), false);
    const row = await runRow('arun_waiting');
    assert.equal(row.poll_claimed_by, null, 'claim released for another instance');
    assert.equal(row.status, 'pending');
    assert.equal(polls(sandbox).length, 0, 'the read never went out');
    assert.equal(logs.find('error', /Polling overdue runs failed/).length, 0);
  });
});
