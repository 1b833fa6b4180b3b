import assert from 'node:assert/strict';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { migratedDataSource } from '../../test/support/data-sources.js';
import { eventually } from '../../test/support/zapier-harness.js';
import { RunCompletedEvent } from '../events/run-completed.event.js';
import { RunExpiredEvent } from '../events/run-expired.event.js';
import { RunFailedEvent } from '../events/run-failed.event.js';
import { ZapierEvents } from '../events/zapier.events.js';
import type { ZapierRunEvent } from '../events/zapier-run-event.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ZapierDeliveryOptions } from '../interfaces/zapier-module-options.interface.js';
import {
  resolveZapierOptions,
  type ResolvedZapierOptions,
} from '../options/resolve-zapier-options.js';
import { ZapierRunLifecycle } from '../runs/zapier-run-lifecycle.js';
import { ZapierClaimedDeliveries } from '../storage/claimed-deliveries.js';
import { ZapierOutbox } from '../storage/outbox.repository.js';
import { ZapierSql } from '../storage/sql/zapier-sql.js';
import type { TerminalResult } from '../storage/stored-run.js';
import type { ZapierHost } from '../zapier-host.provider.js';
import { ZapierDeliveryRunner } from './zapier-delivery.runner.js';
import { ZapierRunningListeners } from './zapier-running-listeners.js';
import { captureNestLogs } from '../../test/support/spec-context.js';
import { ZapierMessages } from '../zapier.messages.js';
import { lifecycleOver } from '../../test/support/lifecycle.js';

const RETRY_BASE_MS = 1_000;
const MAX_ATTEMPTS = 3;

function result(runId: string, status: 'success' | 'error' = 'success'): TerminalResult {
  return {
    runId,
    status,
    results: status === 'success' ? [{ invoice: runId }] : [],
    errors: status === 'error' ? [{ code: 'user', title: 'Bad input', detail: 'Nope' }] : [],
    rawPayload: JSON.stringify({ data: { type: 'run', id: runId, status } }),
    source: 'callback',
    receivedAt: 123_456,
  };
}

/**
 * Adds a listener whose promise `emitAsync` waits for, as it does for an `@OnEvent` handler: a
 * rejection fails the delivery.
 */
function onEvent<E>(
  events: EventEmitter2,
  name: string,
  listener: (event: E) => Promise<void>,
): void {
  events.on(name, listener as (event: E) => void);
}

type RunRow = Record<string, unknown>;

const num = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

describe('ZapierDeliveryRunner', () => {
  let dataSource: DataSource;
  let close: () => Promise<void>;
  let now: number;
  const clock: ZapierClock = { now: () => now };
  const logs = captureNestLogs();
  let databases = 0;
  let runners: ZapierDeliveryRunner[];

  beforeEach(async () => {
    now = 2_000_000;
    runners = [];
    ({ dataSource, close } = await migratedDataSource('sqlite', `delivery_runner_${databases++}`));
  });
  afterEach(async () => {
    for (const runner of runners) {
      await runner.beforeApplicationShutdown();
      await runner.whenIdle();
    }
    await close();
  });

  function optionsFor(instanceId: string, delivery: ZapierDeliveryOptions = {}) {
    return resolveZapierOptions({
      instanceId,
      delivery: {
        leaseMs: 150,
        retryBaseDelayMs: RETRY_BASE_MS,
        maxRetryDelayMs: 60_000,
        maxAttempts: MAX_ATTEMPTS,
        ...delivery,
      },
    });
  }

  function lifecycleFor(
    options: ResolvedZapierOptions,
    channel: ZapierClaimedDeliveries,
  ): ZapierRunLifecycle {
    return lifecycleOver(dataSource, options, clock, channel);
  }

  /**
   * An instance: its lifecycle hands what it stores to its runner (through the claimed-deliveries
   * channel), which emits on a real EventEmitter2.
   */
  function instance(instanceId = 'i1', delivery: ZapierDeliveryOptions = {}) {
    const options = optionsFor(instanceId, delivery);
    const channel = new ZapierClaimedDeliveries();
    const events = new EventEmitter2();
    const host: ZapierHost = { events, scheduler: new SchedulerRegistry(), readiness: undefined };
    const outbox = new ZapierOutbox(new ZapierSql(dataSource));
    const running = new ZapierRunningListeners();
    const runner = new ZapierDeliveryRunner(outbox, channel, host, options, clock, running);
    runners.push(runner);
    return { lifecycle: lifecycleFor(options, channel), runner, events };
  }

  /** An instance whose process died right after storing: nothing delivers what it claimed. */
  function deadInstance(instanceId: string): ZapierRunLifecycle {
    return lifecycleFor(optionsFor(instanceId), new ZapierClaimedDeliveries());
  }

  /** Every event emitted on `events`, by name. */
  function record(events: EventEmitter2): Array<{ name: string; event: ZapierRunEvent }> {
    const heard: Array<{ name: string; event: ZapierRunEvent }> = [];
    for (const name of Object.values(ZapierEvents)) {
      events.on(name, (event: ZapierRunEvent) => {
        heard.push({ name, event });
      });
    }
    return heard;
  }

  async function runRow(runId: string): Promise<RunRow> {
    const [row] = await dataSource.query<RunRow[]>(
      `SELECT * FROM zapier_action_runs WHERE run_id = '${runId}'`,
    );
    assert.ok(row, `row ${runId} exists`);
    return row;
  }

  const rowIs = (runId: string, check: (row: RunRow) => boolean) => async () =>
    check(await runRow(runId));

  it('emits a handed-over run once and marks its row delivered', async () => {
    const { lifecycle, runner, events } = instance();
    const heard = record(events);
    await lifecycle.recordSubmitted({ runId: 'd1', action: 'act', metadata: { orderId: 9 } });
    now += 1_000;
    assert.equal(await lifecycle.recordResult(result('d1')), 'stored');
    await eventually(
      'd1 delivered',
      rowIs('d1', (row) => row.delivery_state === 'delivered'),
    );
    await runner.whenIdle();

    assert.equal(heard.length, 1);
    const [{ name, event }] = heard;
    assert.equal(name, 'zapier.run.completed');
    assert.ok(event instanceof RunCompletedEvent);
    assert.equal(event.runId, 'd1');
    assert.equal(event.attempt, 1);
    assert.deepEqual(event.metadata, { orderId: 9 });
    assert.deepEqual(event.results, [{ invoice: 'd1' }]);
    assert.equal(event.source, 'callback');
    assert.equal(event.receivedAt.getTime(), 123_456);
    const row = await runRow('d1');
    assert.equal(num(row.delivered_at), now);
    assert.equal(row.delivery_claimed_by, null);
    assert.equal(row.delivery_claim_until, null);
    assert.equal(row.delivery_last_error, null);

    assert.equal(await lifecycle.recordResult(result('d1')), 'duplicate');
    await runner.sweep();
    await runner.whenIdle();
    assert.equal(heard.length, 1, 'a duplicate and a sweep emit nothing more');
  });

  it('emits failed and expired runs under their own event names', async () => {
    const { lifecycle, runner, events } = instance();
    const heard = record(events);
    await lifecycle.recordSubmitted({ runId: 'gone', action: 'act', metadata: null });
    await lifecycle.recordResult(result('bad', 'error'));
    await lifecycle.expireNotFound('gone');
    await eventually('both delivered', async () => {
      const rows = await dataSource.query<RunRow[]>(
        `SELECT run_id FROM zapier_action_runs WHERE delivery_state = 'delivered'`,
      );
      return rows.length === 2;
    });
    await runner.whenIdle();
    const byRun = new Map(heard.map((entry) => [entry.event.runId, entry]));
    assert.equal(heard.length, 2);
    assert.equal(byRun.get('bad')?.name, 'zapier.run.failed');
    assert.ok(byRun.get('bad')?.event instanceof RunFailedEvent);
    assert.equal(byRun.get('gone')?.name, 'zapier.run.expired');
    const expired = byRun.get('gone')?.event;
    assert.ok(expired instanceof RunExpiredEvent);
    assert.equal(expired.reason, 'not-found');
  });

  it('retries a throwing listener after the backoff, and parks the run after maxAttempts', async () => {
    const { lifecycle, runner, events } = instance();
    const attempts: number[] = [];
    onEvent(events, ZapierEvents.RunCompleted, async (event: RunCompletedEvent) => {
      attempts.push(event.attempt);
      await Promise.resolve();
      throw new TypeError('listener down');
    });
    await lifecycle.recordResult(result('f1'));

    // Attempt n fails: retried after base · 2^(n-1), ±20%.
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      const failedAt = now;
      await eventually(
        `attempt ${attempt} recorded as failed`,
        rowIs(
          'f1',
          (row) => num(row.delivery_attempts) === attempt && row.delivery_claimed_by === null,
        ),
      );
      await runner.whenIdle();
      const row = await runRow('f1');
      assert.equal(row.delivery_state, 'pending');
      assert.equal(row.delivery_last_error, 'TypeError: listener down');
      const delay = Number(row.delivery_next_at) - failedAt;
      const expected = RETRY_BASE_MS * 2 ** (attempt - 1);
      assert.ok(
        delay >= expected * 0.8 && delay <= expected * 1.2,
        `attempt ${attempt}: retry in ${delay} ms, expected ${expected} ms ±20%`,
      );

      now = Number(row.delivery_next_at) - 1;
      await runner.sweep();
      await runner.whenIdle();
      assert.equal(attempts.length, attempt, 'not retried before its time');
      now += 1;
      await runner.sweep();
    }

    await eventually(
      'parked',
      rowIs('f1', (row) => row.delivery_state === 'parked'),
    );
    await runner.whenIdle();
    assert.deepEqual(attempts, [1, 2, 3]);
    const parked = await runRow('f1');
    assert.equal(num(parked.delivery_attempts), MAX_ATTEMPTS);
    assert.equal(parked.delivery_last_error, 'TypeError: listener down');
    assert.equal(parked.delivery_claimed_by, null);
    assert.equal(logs.find('warn', /Run f1: a listener failed on attempt/).length, 2);
    assert.equal(logs.find('error', /Run f1: listeners failed 3 times.*parked/).length, 1);

    now += 24 * 60 * 60 * 1000;
    await runner.sweep();
    await runner.whenIdle();
    assert.equal(attempts.length, 3, 'a parked run is not retried');
  });

  it('delivers on a retry once the listener recovers, clearing the last error', async () => {
    const { lifecycle, runner, events } = instance();
    const attempts: number[] = [];
    events.on(ZapierEvents.RunCompleted, (event: RunCompletedEvent) => {
      attempts.push(event.attempt);
      if (event.attempt === 1) throw new Error('not yet');
    });
    await lifecycle.recordResult(result('f2'));
    await eventually(
      'first attempt failed',
      rowIs('f2', (row) => row.delivery_last_error === 'Error: not yet'),
    );
    await runner.whenIdle();
    now = Number((await runRow('f2')).delivery_next_at);
    await runner.sweep();
    await eventually(
      'delivered on the retry',
      rowIs('f2', (row) => row.delivery_state === 'delivered'),
    );
    assert.deepEqual(attempts, [1, 2]);
    assert.equal((await runRow('f2')).delivery_last_error, null);
  });

  it('does not take a due run claimed by another live instance', async () => {
    const dead = deadInstance('other');
    const { runner, events } = instance('i1');
    const heard = record(events);
    await dead.recordResult(result('theirs'));
    const claimUntil = Number((await runRow('theirs')).delivery_claim_until);
    assert.equal(claimUntil, now + 150);

    now = claimUntil;
    await runner.sweep();
    await runner.whenIdle();
    assert.equal(heard.length, 0);
    const row = await runRow('theirs');
    assert.equal(row.delivery_claimed_by, 'other');
    assert.equal(num(row.delivery_attempts), 1);
  });

  it('sweeps up a due run whose claim by another instance ran out, as the next attempt', async () => {
    const dead = deadInstance('other');
    const { runner, events } = instance('i1');
    const heard = record(events);
    await dead.recordSubmitted({ runId: 'orphan', action: 'act', metadata: { k: 'v' } });
    await dead.recordResult(result('orphan'));

    now = Number((await runRow('orphan')).delivery_claim_until) + 1;
    await runner.sweep();
    await eventually(
      'orphan delivered',
      rowIs('orphan', (row) => row.delivery_state === 'delivered'),
    );
    await runner.whenIdle();
    assert.equal(heard.length, 1);
    assert.equal(heard[0].event.runId, 'orphan');
    assert.equal(heard[0].event.attempt, 2, 'the cut-short delivery counted as attempt 1');
    assert.deepEqual(heard[0].event.metadata, { k: 'v' });
    assert.equal(num((await runRow('orphan')).delivery_attempts), 2);
  });

  it('renews the claim of a slow delivery, so another instance does not take it over', async () => {
    const mine = instance('i1');
    const theirs = instance('i2');
    const heard: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    onEvent(mine.events, ZapierEvents.RunCompleted, async (event: RunCompletedEvent) => {
      heard.push(`i1:${event.runId}`);
      await gate;
    });
    onEvent(theirs.events, ZapierEvents.RunCompleted, (event: RunCompletedEvent) => {
      heard.push(`i2:${event.runId}`);
      return Promise.resolve();
    });
    await mine.lifecycle.recordResult(result('slow'));
    await eventually('the listener started', () => heard.length === 1);

    // Far past the first claim: only the renewals (every leaseMs / 3) keep it.
    now += 60_000;
    await eventually(
      'the claim renewed from the moved clock',
      rowIs('slow', (row) => num(row.delivery_claim_until) === now + 150),
    );
    await theirs.runner.sweep();
    await theirs.runner.whenIdle();
    assert.deepEqual(heard, ['i1:slow']);

    open();
    await eventually(
      'slow delivered',
      rowIs('slow', (row) => row.delivery_state === 'delivered'),
    );
    assert.deepEqual(heard, ['i1:slow']);
  });

  it('fails an attempt still running after timeoutMs, frees its slot and claim, and ignores its late end', async () => {
    const { lifecycle, runner, events } = instance('i1', { concurrency: 1, timeoutMs: 100 });
    const attempts: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    onEvent(events, ZapierEvents.RunCompleted, async (event: RunCompletedEvent) => {
      attempts.push(`${event.runId}#${event.attempt}`);
      if (event.runId === 'hung' && event.attempt === 1) await gate;
    });
    await lifecycle.recordResult(result('hung'));
    await lifecycle.recordResult(result('next'));

    await eventually(
      'the hung attempt recorded as failed',
      rowIs('hung', (row) => row.delivery_last_error !== null),
    );
    const failed = await runRow('hung');
    assert.equal(failed.delivery_state, 'pending');
    assert.equal(failed.delivery_claimed_by, null, 'its claim is given up');
    assert.equal(failed.delivery_claim_until, null);
    assert.equal(num(failed.delivery_attempts), 1);
    assert.equal(failed.delivery_last_error, ZapierMessages.deliveryTimeoutError(100, []));
    const delay = Number(failed.delivery_next_at) - now;
    assert.ok(delay >= RETRY_BASE_MS * 0.8 && delay <= RETRY_BASE_MS * 1.2, `retry in ${delay}`);
    assert.equal(logs.find('warn', ZapierMessages.deliveryTimedOut('hung', 1, 100, [])).length, 1);
    // The one slot is free again: the run queued behind the hung one is delivered.
    await eventually(
      'next delivered',
      rowIs('next', (row) => row.delivery_state === 'delivered'),
    );

    // The hung listener returns at last: nothing is recorded from it, and no renewal revives it.
    open();
    await new Promise((resolve) => setTimeout(resolve, 150));
    const after = await runRow('hung');
    assert.equal(after.delivery_state, 'pending');
    assert.equal(after.delivery_claimed_by, null);
    assert.equal(after.delivery_claim_until, null);
    assert.equal(after.delivered_at, null);

    now = Number(after.delivery_next_at);
    await runner.sweep();
    await eventually(
      'hung delivered on the retry',
      rowIs('hung', (row) => row.delivery_state === 'delivered'),
    );
    await runner.whenIdle();
    assert.deepEqual(attempts, ['hung#1', 'next#1', 'hung#2']);
  });

  it('leaves new results unclaimed while its runner is full, for any sweep, and sweeps them once it has room', async () => {
    const mine = instance('i1', { concurrency: 1 });
    const theirs = instance('i2');
    const heard: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    onEvent(mine.events, ZapierEvents.RunCompleted, async (event: RunCompletedEvent) => {
      await gate;
      heard.push(`i1:${event.runId}`);
    });
    onEvent(theirs.events, ZapierEvents.RunCompleted, (event: RunCompletedEvent) => {
      heard.push(`i2:${event.runId}`);
      return Promise.resolve();
    });
    // One delivering, one queued: the runner is full (capacity 2 · concurrency).
    assert.equal(mine.runner.capacity, 2);
    await mine.lifecycle.recordResult(result('r1'));
    await mine.lifecycle.recordResult(result('r2'));
    assert.equal(mine.runner.room(), 0);
    await mine.lifecycle.recordResult(result('r3'));
    const left = await runRow('r3');
    assert.equal(left.delivery_state, 'pending');
    assert.equal(left.delivery_claimed_by, null, 'not claimed by the full instance');
    assert.equal(num(left.delivery_attempts), 0, 'not attempted yet');
    assert.equal(num(left.delivery_next_at), now, 'due at once');
    for (const runId of ['r1', 'r2']) {
      assert.equal((await runRow(runId)).delivery_claimed_by, 'i1');
    }

    await theirs.runner.sweep();
    await eventually(
      'r3 delivered by the other instance',
      rowIs('r3', (row) => row.delivery_state === 'delivered'),
    );
    await theirs.runner.whenIdle();
    assert.equal(num((await runRow('r3')).delivery_attempts), 1, 'the sweep counted attempt 1');

    // Still full: the next result is left unclaimed too, and this instance takes it itself once
    // its listeners return (no sweep is called here).
    await mine.lifecycle.recordResult(result('r4'));
    assert.equal((await runRow('r4')).delivery_claimed_by, null);
    open();
    await eventually(
      'r4 delivered by the instance that stored it',
      rowIs('r4', (row) => row.delivery_state === 'delivered'),
    );
    await mine.runner.whenIdle();
    assert.deepEqual(heard.sort(), ['i1:r1', 'i1:r2', 'i1:r4', 'i2:r3']);
  });

  it('on shutdown, releases queued runs and lets the running delivery finish and be recorded', async () => {
    // One delivery at a time, and a lease long enough for the shutdown to wait for it.
    const { lifecycle, runner, events } = instance('i1', { concurrency: 1, leaseMs: 2_000 });
    const started: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    onEvent(events, ZapierEvents.RunCompleted, async (event: RunCompletedEvent) => {
      started.push(event.runId);
      await gate;
    });
    const ids = ['s1', 's2', 's3'];
    await Promise.all(ids.map((runId) => lifecycle.recordResult(result(runId))));
    await eventually('a delivery started', () => started.length === 1);
    const [running] = started;
    const queued = ids.filter((runId) => runId !== running);

    const stopped = runner.beforeApplicationShutdown();
    await eventually('queued runs released', async () => {
      const rows = await Promise.all(queued.map((runId) => runRow(runId)));
      return rows.every((row) => row.delivery_claimed_by === null);
    });
    for (const runId of queued) {
      const row = await runRow(runId);
      assert.equal(row.delivery_state, 'pending');
      assert.equal(row.delivery_claim_until, null);
      assert.equal(num(row.delivery_next_at), now, 'due at once for another instance');
    }
    assert.equal((await runRow(running)).delivery_claimed_by, 'i1', 'still held while running');

    open();
    await stopped;
    const done = await runRow(running);
    assert.equal(done.delivery_state, 'delivered', 'recorded before shutdown returns');
    assert.deepEqual(started, [running], 'queued runs were never emitted here');

    // Claimed after shutdown began: handed straight back.
    await lifecycle.recordResult(result('late'));
    await eventually(
      'late run released',
      rowIs('late', (row) => row.delivery_claimed_by === null),
    );
    await runner.sweep();
    assert.deepEqual(started, [running]);
  });

  it('leaves no timer keeping the process alive once shutdown returned', async () => {
    const { runner } = instance('i1', { leaseMs: 1_000 });
    const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout');
    const before = timers().length;
    const started = Date.now();
    await runner.beforeApplicationShutdown();
    assert.ok(Date.now() - started < 500, 'nothing was active: shutdown returns at once');
    assert.equal(timers().length, before, 'no timer left behind');
  });
});
