import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { migratedDataSource } from '../../test/support/data-sources.js';
import { postgresSkipReason } from '../../test/support/postgres.js';
import { eventually } from '../../test/support/zapier-harness.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ZapierRunResults } from '../interfaces/action-run.interface.js';
import { resolveZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierClaimedDeliveries } from '../storage/claimed-deliveries.js';
import { ZapierOutbox } from '../storage/outbox.repository.js';
import { ZapierSql } from '../storage/sql/zapier-sql.js';
import type { DeliverableRun, TerminalResult } from '../storage/stored-run.js';
import { ZapierRunLifecycle, type RecordOutcome } from './zapier-run-lifecycle.js';
import { captureNestLogs } from '../../test/support/spec-context.js';
import { lifecycleOver } from '../../test/support/lifecycle.js';
import { ZapierMessages } from '../zapier.messages.js';
import { ZapierValueRefusedError } from '../errors/zapier-storage.errors.js';

const REQUEST_TIMEOUT_MS = 10_000;
/** How long `beginCreate()` holds results at most: the request timeout plus the 5 s margin. */
const HOLD_MS = REQUEST_TIMEOUT_MS + 5_000;
const RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
const LEASE_MS = 30_000;

/** What the lifecycle handed to the claimed-deliveries channel. */
class DeliveryRecorder {
  readonly handed: DeliverableRun[] = [];
  due = 0;
  /** What the runner says it has room for. */
  room = Infinity;

  constructor(channel: ZapierClaimedDeliveries) {
    channel.subscribe({
      claimed: (runs) => this.handed.push(...runs),
      due: () => {
        this.due += 1;
      },
      room: () => this.room,
    });
  }

  forRun(runId: string): DeliverableRun[] {
    return this.handed.filter((run) => run.runId === runId);
  }
}

/** A lifecycle wired to real repositories on `dataSource`, as the module wires it. */
function lifecycleOn(dataSource: DataSource, clock: ZapierClock, instanceId: string) {
  const channel = new ZapierClaimedDeliveries();
  const recorder = new DeliveryRecorder(channel);
  const options = resolveZapierOptions({
    instanceId,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    polling: { retentionMs: RETENTION_MS, overdueAfterMs: 300_000 },
    delivery: { leaseMs: LEASE_MS },
  });
  const lifecycle = lifecycleOver(dataSource, options, clock, channel);
  return { lifecycle, recorder };
}

function result(
  runId: string,
  status: 'success' | 'error' = 'success',
  source: 'callback' | 'poll' = 'callback',
): TerminalResult {
  return {
    runId,
    status,
    results: status === 'success' ? [{ orderId: 42 }] : [],
    errors: status === 'error' ? [{ code: 'user', title: 'Bad input', detail: 'Nope' }] : [],
    rawPayload: JSON.stringify({ data: { type: 'run', id: runId, status } }),
    source,
    receivedAt: 1,
  };
}

type RunRow = Record<string, unknown>;

async function runRow(dataSource: DataSource, runId: string): Promise<RunRow> {
  const [row] = await dataSource.query<RunRow[]>(
    `SELECT * FROM zapier_action_runs WHERE run_id = '${runId}'`,
  );
  assert.ok(row, `row ${runId} exists`);
  return row;
}

const num = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

const pgSkip = await postgresSkipReason();

/** Nested deeper than JSON.stringify can serialise (it recurses; the parsers of V8 do not). */
function tooDeepForJson(): ZapierRunResults {
  let value: Record<string, unknown> = {};
  for (let i = 0; i < 200_000; i++) value = { next: value };
  return [value];
}

/**
 * Submits `ids` in one tick, so that they share one batch, with the result of `culprit` replaced
 * by `bad`; returns how each settled, in order.
 */
async function recordTogether(
  lifecycle: ZapierRunLifecycle,
  ids: string[],
  bad: (runId: string) => TerminalResult | undefined,
): Promise<Array<PromiseSettledResult<RecordOutcome>>> {
  return Promise.allSettled(ids.map((id) => lifecycle.recordResult(bad(id) ?? result(id))));
}

describe('ZapierRunLifecycle on sqlite', () => {
  let dataSource: DataSource;
  let close: () => Promise<void>;
  let now: number;
  const clock: ZapierClock = { now: () => now };
  let lifecycle: ZapierRunLifecycle;
  let recorder: DeliveryRecorder;
  const logs = captureNestLogs();
  let databases = 0;

  beforeEach(async () => {
    now = 1_000_000;
    // A fresh database per test: the budget row (holds, creates in flight) is shared state.
    ({ dataSource, close } = await migratedDataSource('sqlite', `lifecycle_${databases++}`));
    ({ lifecycle, recorder } = lifecycleOn(dataSource, clock, 'i1'));
  });
  afterEach(() => close());

  it('stores a result once and hands it over once, claimed by this instance', async () => {
    assert.equal(await lifecycle.recordResult(result('r1')), 'stored');
    assert.deepEqual(
      recorder.handed.map((run) => [run.runId, run.status, run.attempt, run.deliveryNextAt]),
      [['r1', 'success', 1, now]],
    );
    assert.deepEqual(recorder.handed[0].results, [{ orderId: 42 }]);
    const row = await runRow(dataSource, 'r1');
    assert.equal(row.status, 'success');
    assert.equal(row.source, 'callback');
    assert.equal(row.delivery_state, 'pending');
    assert.equal(row.delivery_claimed_by, 'i1');
    assert.equal(num(row.delivery_claim_until), now + LEASE_MS);
    assert.equal(num(row.delivery_attempts), 1);
    assert.equal(num(row.completed_at), now);
    assert.equal(recorder.due, 0);
  });

  it('leaves results unclaimed and due when the runner has no room for them, and signals due', async () => {
    const unclaimed = async (runId: string, dueAt: number) => {
      const row = await runRow(dataSource, runId);
      assert.equal(row.delivery_state, 'pending');
      assert.equal(row.delivery_claimed_by, null, `${runId} not claimed`);
      assert.equal(row.delivery_claim_until, null);
      assert.equal(num(row.delivery_attempts), 0, `${runId} not attempted`);
      assert.equal(num(row.delivery_next_at), dueAt);
    };
    recorder.room = 0;
    // A new row, and a row the client recorded (the statement's two branches).
    await lifecycle.recordSubmitted({ runId: 'known', action: 'act', metadata: null });
    assert.equal(await lifecycle.recordResult(result('fresh')), 'stored');
    assert.equal(await lifecycle.recordResult(result('known')), 'stored');
    await lifecycle.recordSubmitted({ runId: 'gone', action: 'act', metadata: null });
    await lifecycle.expireNotFound('gone');
    assert.equal(recorder.handed.length, 0, 'nothing handed over');
    assert.equal(recorder.due, 3, 'a sweep asked for after each statement that left work');
    await unclaimed('fresh', now);
    await unclaimed('known', now);
    await unclaimed('gone', now);
    assert.equal((await runRow(dataSource, 'gone')).status, 'expired');

    // A result held for a create call keeps its hold, unclaimed as always.
    await lifecycle.beginCreate();
    await lifecycle.recordResult(result('held'));
    await unclaimed('held', now + HOLD_MS);
    assert.equal(recorder.due, 3, 'nothing due yet');

    // Room for exactly one: claimed as usual.
    recorder.room = 1;
    await lifecycle.finishCreate();
    assert.equal(await lifecycle.recordResult(result('fits')), 'stored');
    assert.deepEqual(
      recorder.handed.map((run) => run.runId),
      ['fits'],
    );
    assert.equal((await runRow(dataSource, 'fits')).delivery_claimed_by, 'i1');
  });

  it('answers duplicate to the same result again, and hands nothing over', async () => {
    await lifecycle.recordResult(result('r1'));
    now += 1_000;
    assert.equal(await lifecycle.recordResult(result('r1')), 'duplicate');
    assert.equal(await lifecycle.recordResult(result('r1', 'success', 'poll')), 'duplicate');
    assert.equal(recorder.forRun('r1').length, 1);
    const row = await runRow(dataSource, 'r1');
    assert.equal(row.source, 'callback', 'the first result stays as it was');
    assert.equal(num(row.completed_at), now - 1_000);
  });

  it('keeps the first terminal state against a conflicting later result, and warns', async () => {
    await lifecycle.recordResult(result('r2', 'success'));
    assert.equal(await lifecycle.recordResult(result('r2', 'error')), 'duplicate');
    assert.equal(recorder.forRun('r2').length, 1);
    const row = await runRow(dataSource, 'r2');
    assert.equal(row.status, 'success');
    assert.equal(row.errors, '[]');
    // The conflict is reported after the answer, off the hot path.
    await eventually('the conflict warning', () => logs.find('warn', /Run r2/).length > 0);
    const [warning] = logs.find('warn', /Run r2/);
    assert.match(warning.message, /already success.*later callback saying error/);
    assert.equal(warning.context, 'ZapierRuns');
  });

  it('counts a run repeated within one batch as stored once', async () => {
    const outcomes = await Promise.all([
      lifecycle.recordResult(result('r3')),
      lifecycle.recordResult(result('r3', 'success', 'poll')),
      lifecycle.recordResult(result('r4')),
    ]);
    assert.deepEqual(outcomes, ['stored', 'duplicate', 'stored']);
    assert.deepEqual(recorder.handed.map((run) => run.runId).sort(), ['r3', 'r4']);
  });

  it('holds a result for an unrecorded run while a create is open, and releases it on finishCreate', async () => {
    await lifecycle.beginCreate();
    now += 100;
    assert.equal(await lifecycle.recordResult(result('held')), 'stored');
    assert.deepEqual(recorder.handed, [], 'nothing handed over while the create is open');
    let row = await runRow(dataSource, 'held');
    assert.equal(row.delivery_state, 'pending');
    assert.equal(num(row.delivery_next_at), now - 100 + HOLD_MS, 'held until the deadline');
    assert.ok(Number(row.delivery_next_at) > now);
    assert.equal(row.delivery_claimed_by, null);
    assert.equal(num(row.delivery_attempts), 0);

    now += 100;
    await lifecycle.finishCreate();
    assert.equal(recorder.due, 1, 'signalDue once');
    assert.deepEqual(recorder.handed, [], 'released for a sweep, not handed over');
    row = await runRow(dataSource, 'held');
    assert.equal(num(row.delivery_next_at), now);
    assert.equal(row.delivery_claimed_by, null);
  });

  it('does not hold a result for a run already recorded while a create is open', async () => {
    await lifecycle.recordSubmitted({ runId: 'known', action: 'act', metadata: { k: 1 } });
    await lifecycle.beginCreate();
    assert.equal(await lifecycle.recordResult(result('known')), 'stored');
    assert.deepEqual(
      recorder.handed.map((run) => [run.runId, run.metadata]),
      [['known', { k: 1 }]],
    );
  });

  it('releases held results only when the last of two open creates finishes', async () => {
    await lifecycle.beginCreate();
    now += 50;
    await lifecycle.beginCreate();
    await lifecycle.recordResult(result('held'));
    const heldUntil = now + HOLD_MS;
    assert.equal(num((await runRow(dataSource, 'held')).delivery_next_at), heldUntil);

    await lifecycle.finishCreate();
    assert.equal(recorder.due, 0, 'one create is still open');
    assert.equal(num((await runRow(dataSource, 'held')).delivery_next_at), heldUntil);

    now += 10;
    await lifecycle.finishCreate();
    assert.equal(recorder.due, 1);
    assert.equal(num((await runRow(dataSource, 'held')).delivery_next_at), now);
    assert.deepEqual(recorder.handed, []);
  });

  it('attaches metadata to a held callback on recordSubmitted and signals due', async () => {
    // The order ZapierClient goes through: begin, (callback arrives), record, finish.
    await lifecycle.beginCreate();
    await lifecycle.recordResult(result('fast'));
    now += 20;
    await lifecycle.recordSubmitted({ runId: 'fast', action: 'act', metadata: { orderId: 7 } });
    assert.equal(recorder.due, 1);
    const row = await runRow(dataSource, 'fast');
    assert.equal(row.status, 'success', 'never back to pending');
    assert.deepEqual(JSON.parse(String(row.metadata)), { orderId: 7 });
    assert.equal(row.action, 'act');
    assert.equal(num(row.submitted_at), now);
    assert.equal(num(row.delivery_next_at), now);
    assert.equal(row.delivery_claimed_by, null);
    await lifecycle.finishCreate();
    assert.equal(recorder.due, 1, 'nothing else was held');
    assert.deepEqual(recorder.handed, []);
  });

  it('records a submitted run as pending with its first poll once overdue, without signalling', async () => {
    await lifecycle.recordSubmitted({ runId: 'sub', action: 'act', metadata: null });
    const row = await runRow(dataSource, 'sub');
    assert.equal(row.status, 'pending');
    assert.equal(row.metadata, null);
    assert.equal(num(row.poll_next_at), now + 300_000);
    assert.equal(num(row.poll_attempts), 0);
    assert.equal(row.delivery_state, 'none');
    assert.equal(recorder.due, 0);
  });

  it('ends the hold once the beginCreate deadline passes, even without finishCreate', async () => {
    const began = now;
    await lifecycle.beginCreate();
    await lifecycle.recordResult(result('orphaned'));
    assert.equal(num((await runRow(dataSource, 'orphaned')).delivery_next_at), began + HOLD_MS);

    // The create's process died: nobody calls finishCreate.
    now = began + HOLD_MS + 1;
    assert.equal(await lifecycle.recordResult(result('later')), 'stored');
    assert.deepEqual(
      recorder.handed.map((run) => run.runId),
      ['later'],
      'a result after the deadline is not held',
    );
    const outbox = new ZapierOutbox(new ZapierSql(dataSource));
    const swept = await outbox.claimDue(
      { now, instanceId: 'sweeper', claimUntil: now + LEASE_MS },
      10,
      10,
    );
    assert.deepEqual(
      swept.map((run) => run.runId),
      ['orphaned'],
      'a sweep takes the formerly held run',
    );
    assert.equal(recorder.due, 0);
  });

  it('expires only pending runs older than the retention and hands them over as expired', async () => {
    await lifecycle.recordSubmitted({ runId: 'old', action: 'act', metadata: { n: 1 } });
    await lifecycle.recordSubmitted({ runId: 'old-done', action: 'act', metadata: null });
    await lifecycle.recordResult(result('old-done'));
    recorder.handed.length = 0;
    now += RETENTION_MS / 2;
    await lifecycle.recordSubmitted({ runId: 'young', action: 'act', metadata: null });

    now += RETENTION_MS / 2 - 1;
    assert.equal(await lifecycle.expireRetained(), 0, 'exactly the retention is not past it');
    now += 2;
    assert.equal(await lifecycle.expireRetained(), 1);
    assert.deepEqual(
      recorder.handed.map((run) => [run.runId, run.status, run.expiredReason, run.metadata]),
      [['old', 'expired', 'retention', { n: 1 }]],
    );
    const old = await runRow(dataSource, 'old');
    assert.equal(old.status, 'expired');
    assert.equal(old.expired_reason, 'retention');
    assert.equal(old.poll_next_at, null);
    assert.equal(old.delivery_state, 'pending');
    assert.equal(old.delivery_claimed_by, 'i1');
    assert.equal((await runRow(dataSource, 'young')).status, 'pending');
    assert.equal((await runRow(dataSource, 'old-done')).status, 'success');
    assert.equal(logs.find('warn', ZapierMessages.runsExpired(1, RETENTION_MS)).length, 1);

    assert.equal(await lifecycle.expireRetained(), 0, 'an expired run is not expired again');
    assert.equal(recorder.handed.length, 1);
  });

  it('expires a pending run on expireNotFound, once, and leaves terminal runs alone', async () => {
    await lifecycle.recordSubmitted({ runId: 'gone', action: 'act', metadata: { n: 2 } });
    await lifecycle.recordResult(result('done'));
    recorder.handed.length = 0;

    await lifecycle.expireNotFound('gone');
    assert.deepEqual(
      recorder.handed.map((run) => [run.runId, run.status, run.expiredReason, run.metadata]),
      [['gone', 'expired', 'not-found', { n: 2 }]],
    );
    const row = await runRow(dataSource, 'gone');
    assert.equal(row.status, 'expired');
    assert.equal(row.expired_reason, 'not-found');
    assert.equal(num(row.completed_at), now);
    assert.equal(logs.find('warn', ZapierMessages.runExpiredNotFound('gone')).length, 1);

    await lifecycle.expireNotFound('gone');
    await lifecycle.expireNotFound('done');
    await lifecycle.expireNotFound('never-recorded');
    assert.equal(recorder.handed.length, 1);
    assert.equal((await runRow(dataSource, 'done')).status, 'success');
    assert.equal(logs.find('warn', /expired because Zapier no longer knows it/).length, 1);
  });

  it('quarantines a refused callback without touching the run', async () => {
    await lifecycle.recordSubmitted({ runId: 'q1', action: 'act', metadata: null });
    await lifecycle.quarantine({
      runId: 'q1',
      reason: 'data.status must be a string',
      rawBody: '{"data":{"id":"q1","status":7}}',
      receivedAt: now,
    });
    await lifecycle.quarantine({ runId: null, reason: 'no id', rawBody: '{}', receivedAt: now });
    const rows = await dataSource.query<RunRow[]>(
      `SELECT run_id, reason, raw_body, received_at FROM zapier_callback_quarantine ORDER BY id`,
    );
    assert.deepEqual(
      rows.map((row) => [row.run_id, row.reason, row.raw_body, num(row.received_at)]),
      [
        ['q1', 'data.status must be a string', '{"data":{"id":"q1","status":7}}', now],
        [null, 'no id', '{}', now],
      ],
    );
    assert.equal((await runRow(dataSource, 'q1')).status, 'pending');
    assert.deepEqual(recorder.handed, []);
  });

  it('fails only the result that cannot be serialised; the rest of its batch commits', async () => {
    const ids = Array.from({ length: 12 }, (_v, i) => `deep-${i}`);
    const settled = await recordTogether(lifecycle, ids, (id) =>
      id === 'deep-5' ? { ...result(id), results: tooDeepForJson() } : undefined,
    );
    settled.forEach((outcome, i) => {
      if (i === 5) {
        assert.equal(outcome.status, 'rejected');
        const error = outcome.reason as unknown;
        assert.ok(error instanceof ZapierValueRefusedError, String(error));
        assert.match(error.reason, /cannot be serialised as JSON/);
      } else {
        assert.deepEqual(outcome, { status: 'fulfilled', value: 'stored' }, ids[i]);
      }
    });
    const stored = await dataSource.query<RunRow[]>(
      `SELECT run_id FROM zapier_action_runs ORDER BY run_id`,
    );
    assert.deepEqual(
      stored.map((row) => row.run_id),
      ids.filter((id) => id !== 'deep-5').sort(),
    );
    assert.equal(recorder.handed.length, 11, 'each stored result handed over once');
  });
});

describe('ZapierRunLifecycle on postgres', { skip: pgSkip }, () => {
  let first: DataSource;
  let second: DataSource;
  let close: () => Promise<void>;
  const clock: ZapierClock = { now: () => 5_000_000 };

  captureNestLogs();

  before(async () => {
    ({ dataSource: first, close } = await migratedDataSource('postgres', 'lifecycle_spec'));
    // A second connection pool on the same database: another app instance.
    second = await new DataSource({ ...first.options, migrationsRun: false }).initialize();
  });
  after(async () => {
    await second?.destroy();
    await close?.();
  });

  it('stores exactly one of 20 concurrent results for a run from two instances', async () => {
    const a = lifecycleOn(first, clock, 'instance-a');
    const b = lifecycleOn(second, clock, 'instance-b');
    for (let round = 0; round < 5; round++) {
      const runId = `race-${round}`;
      const calls: Array<Promise<{ by: string; outcome: RecordOutcome }>> = [];
      for (let i = 0; i < 20; i++) {
        const [by, { lifecycle }] = i % 2 === 0 ? ['instance-a', a] : ['instance-b', b];
        const source = i % 3 === 0 ? 'poll' : 'callback';
        // Some go in a later batch, so each instance has several statements in flight.
        const delay = i % 4 < 2 ? Promise.resolve() : new Promise((r) => setImmediate(r));
        calls.push(
          delay.then(async () => ({
            by,
            outcome: await lifecycle.recordResult(result(runId, 'success', source)),
          })),
        );
      }
      const settled = await Promise.all(calls);
      const stored = settled.filter((call) => call.outcome === 'stored');
      assert.equal(stored.length, 1, `${runId}: exactly one stored`);
      const handed = [...a.recorder.forRun(runId), ...b.recorder.forRun(runId)];
      assert.equal(handed.length, 1, `${runId}: handed over once`);
      const row = await runRow(first, runId);
      assert.equal(row.status, 'success');
      assert.equal(row.delivery_claimed_by, stored[0].by, 'claimed by the instance that stored it');
    }
  });

  it('fails only the result whose run id PostgreSQL refuses (NUL, 22021); its batch neighbours commit', async () => {
    const { lifecycle, recorder } = lifecycleOn(first, clock, 'instance-a');
    const ids = Array.from({ length: 20 }, (_v, i) => (i === 7 ? 'nul-\u0000-7' : `nul-${i}`));
    const settled = await recordTogether(lifecycle, ids, () => undefined);
    settled.forEach((outcome, i) => {
      if (i === 7) {
        assert.equal(outcome.status, 'rejected');
        const error = outcome.reason as unknown;
        assert.ok(error instanceof ZapierValueRefusedError, String(error));
        assert.match(error.reason, /22021/);
      } else {
        assert.deepEqual(outcome, { status: 'fulfilled', value: 'stored' }, ids[i]);
      }
    });
    const stored = await first.query<RunRow[]>(
      `SELECT run_id FROM zapier_action_runs WHERE run_id LIKE 'nul-%' ORDER BY run_id`,
    );
    assert.deepEqual(
      stored.map((row) => row.run_id),
      ids.filter((_id, i) => i !== 7).sort(),
    );
    assert.equal(recorder.handed.length, 19);
  });
});
