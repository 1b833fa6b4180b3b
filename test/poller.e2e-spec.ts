import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { RunCompletedEvent } from '../src/events/run-completed.event.js';
import type { SandboxPendingStyle } from '../src/testing/zapier-sandbox.interfaces.js';
import { engineSkipReasons } from './support/data-sources.js';
import {
  describeOnEachEngine,
  DAY,
  FAST_POLLING,
  MINUTE,
  polls,
  readRun,
  readRuns,
  sleep,
  TestClock,
} from './support/zapier-harness.js';
import { SAMPLE_RUN } from './support/sample-runs.js';
import { awaitMarkerEvent } from './support/callbacks.js';

const skips = await engineSkipReasons();

describeOnEachEngine(
  'poller against the sandbox',
  'h2_poller',
  skips,
  (setup) => {
    it('completes a run whose callback never comes by polling it after overdueAfterMs', async () => {
      const { sandbox, zapier } = await setup({ zapier: { polling: FAST_POLLING } });
      sandbox.queueOutcome({ status: 'success', results: [{ n: 1 }], callback: 'never' });
      sandbox.queueOutcome({ status: 'error', callback: 'never' });
      const ok = await zapier.client.createActionRun({ ...SAMPLE_RUN, metadata: { orderId: 1 } });
      const failed = await zapier.client.createActionRun({
        ...SAMPLE_RUN,
        metadata: { orderId: 2 },
      });

      await zapier.listener.waitFor(2);
      const completed = zapier.listener.forRun(ok.id);
      assert.equal(completed.length, 1);
      assert.equal(completed[0].name, 'zapier.run.completed');
      const done = completed[0].event;
      assert.equal(done.source, 'poll');
      assert.deepEqual(done.results, [{ n: 1 }]);
      assert.deepEqual(done.metadata, { orderId: 1 });
      const failure = zapier.listener.forRun(failed.id);
      assert.equal(failure.length, 1);
      assert.equal(failure[0].name, 'zapier.run.failed');
      assert.equal(failure[0].event.source, 'poll');
      assert.equal(failure[0].event.errors[0].code, 'user');
      assert.deepEqual(failure[0].event.metadata, { orderId: 2 });

      for (const id of [ok.id, failed.id]) {
        const row = await readRun(zapier.dataSource, id);
        assert.ok(row?.submittedAt);
        assert.equal(polls(sandbox, id).length, 1, 'one poll, once overdue');
        assert.ok(polls(sandbox, id)[0].at >= row.submittedAt + FAST_POLLING.overdueAfterMs);
        assert.equal(row.source, 'poll');
        assert.equal(row.pollNextAt, null);
      }
      const row = await readRun(zapier.dataSource, ok.id);
      assert.equal(row?.status, 'success');
      assert.deepEqual(row?.results, [{ n: 1 }]);
      assert.deepEqual(JSON.parse(row?.rawPayload ?? ''), {
        data: { type: 'run', status: 'success', results: [{ n: 1 }], errors: [] },
      });

      // A callback arriving after the poll completed the run is a duplicate: 200, no event.
      const late = await sandbox.signer.callbackRequest({ id: ok.id, status: 'success' });
      const answer = await fetch(`${zapier.url}/zapier/callbacks`, { method: 'POST', ...late });
      assert.equal(answer.status, 200);
      assert.deepEqual(await answer.json(), { runId: ok.id, duplicate: true });
      // One that disagrees changes nothing either (the first terminal state wins).
      const conflicting = await sandbox.signer.callbackRequest({ id: ok.id, status: 'error' });
      const second = await fetch(`${zapier.url}/zapier/callbacks`, {
        method: 'POST',
        ...conflicting,
      });
      assert.equal(second.status, 200);
      // A whole poller round after both, then a later run's event: anything either of them set off
      // would come before it.
      await zapier.poller.tick();
      await zapier.poller.tick();
      await awaitMarkerEvent(zapier, sandbox.signer, 'arun_after_duplicates');
      assert.equal(zapier.listener.forRun(ok.id).length, 1);
      assert.equal(zapier.listener.events.length, 3);
      assert.equal((await readRun(zapier.dataSource, ok.id))?.status, 'success');
      assert.equal(polls(sandbox).length, 2);
    });

    it('never polls a run whose callback arrived', async () => {
      const clock = new TestClock();
      const { sandbox, zapier } = await setup({ clock });
      const delivered = [];
      for (let i = 0; i < 3; i++) delivered.push(await zapier.client.createActionRun(SAMPLE_RUN));
      sandbox.queueOutcome({ status: 'success', callback: 'never' });
      const silent = await zapier.client.createActionRun(SAMPLE_RUN);
      await zapier.listener.waitFor(3);
      await sandbox.whenIdle();
      clock.advance(10 * MINUTE);
      for (let i = 0; i < 3; i++) await zapier.poller.tick();
      await zapier.listener.waitFor(4);
      assert.deepEqual(
        polls(sandbox).map((request) => request.path),
        [`/v2/action-runs/${silent.id}`],
      );
      for (const { id } of delivered) {
        assert.equal(zapier.listener.forRun(id).length, 1);
        assert.equal((await readRun(zapier.dataSource, id))?.source, 'callback');
      }
    });

    it('backs off with growing gaps while Zapier reports the run pending, in every pending shape', async () => {
      const styles: SandboxPendingStyle[] = ['waiting', 'running', 'queued', '202'];
      const apps = await Promise.all(
        styles.map((pendingStyle) =>
          setup({
            sandbox: { pendingStyle },
            zapier: {
              polling: {
                intervalMs: 20,
                overdueAfterMs: 50,
                initialBackoffMs: 100,
                maxBackoffMs: 5000,
              },
            },
          }),
        ),
      );
      const ids = await Promise.all(
        apps.map(async ({ sandbox, zapier }) => {
          sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 1700 });
          return (await zapier.client.createActionRun(SAMPLE_RUN)).id;
        }),
      );
      await Promise.all(apps.map(({ zapier }) => zapier.listener.waitFor(1, 8000)));
      for (const [i, { sandbox, zapier }] of apps.entries()) {
        const style = styles[i];
        const seen = polls(sandbox, ids[i]);
        const statuses = seen.map((request) => request.status);
        assert.ok(seen.length >= 4, `${style}: ${seen.length} polls`);
        assert.deepEqual(
          statuses.slice(0, -1),
          Array<number>(seen.length - 1).fill(style === '202' ? 202 : 200),
        );
        const gaps = seen.slice(1).map((request, j) => request.at - seen[j].at);
        // 100 ms doubling with ±20% jitter: gap j is at least 80% of 100 × 2^j. Only the lower
        // bound: a busy machine makes a poll late (a longer gap, and a shorter next one), never
        // early, so comparing neighbouring gaps would measure the machine.
        gaps.forEach((gap, j) =>
          assert.ok(gap >= 0.8 * 100 * 2 ** j, `${style}: gap ${j} in ${gaps.join(', ')}`),
        );
        const [heard] = zapier.listener.events;
        assert.equal(zapier.listener.events.length, 1);
        assert.equal((heard.event as RunCompletedEvent).source, 'poll');
        const row = await readRun(zapier.dataSource, ids[i]);
        assert.equal(row?.status, 'success');
        assert.equal(row?.pollAttempts, seen.length - 1);
      }
    });

    it('stops polling a long run once its late callback arrives: one event, from the callback', async () => {
      const { sandbox, zapier } = await setup({
        sandbox: { pendingStyle: 'running' },
        zapier: { polling: { intervalMs: 20, overdueAfterMs: 100, initialBackoffMs: 150 } },
      });
      // Polls come at ~100, ~250 and ~550 ms, then not before ~970 ms: the run ends between.
      sandbox.queueOutcome({ status: 'success', results: [{ late: true }], delayMs: 850 });
      const { id } = await zapier.client.createActionRun(SAMPLE_RUN);
      await zapier.listener.waitFor(1, 5000);
      const seen = polls(sandbox, id).length;
      assert.ok(seen >= 2, `polled ${seen} times while running`);
      assert.ok(polls(sandbox, id).every((request) => request.status === 200));
      const [heard] = zapier.listener.events;
      assert.equal((heard.event as RunCompletedEvent).source, 'callback');
      assert.deepEqual((heard.event as RunCompletedEvent).results, [{ late: true }]);
      await sandbox.whenIdle();
      assert.equal(sandbox.run(id)?.deliveries[0]?.status, 200);
      await sleep(1000);
      assert.equal(polls(sandbox, id).length, seen, 'no poll after the callback');
      assert.equal(zapier.listener.events.length, 1);
    });

    it('gives one event per run when callbacks and polls race', async () => {
      const { sandbox, zapier } = await setup({
        zapier: { polling: { intervalMs: 10, overdueAfterMs: 0 } },
      });
      const count = 12;
      for (let i = 0; i < count; i++) sandbox.queueOutcome({ status: 'success', delayMs: 0 });
      const ids = (
        await Promise.all(
          Array.from({ length: count }, () => zapier.client.createActionRun(SAMPLE_RUN)),
        )
      ).map((run) => run.id);
      await zapier.listener.waitFor(count);
      await sandbox.whenIdle();
      await sleep(300);
      for (const id of ids) assert.equal(zapier.listener.forRun(id).length, 1, id);
      assert.equal(zapier.listener.events.length, count);
      const rows = await readRuns(zapier.dataSource);
      assert.ok(rows.every((row) => row.status === 'success' && row.deliveryState === 'delivered'));
      // Both paths really took part (otherwise this raced nothing).
      assert.ok(polls(sandbox).length > 0);
      assert.ok(sandbox.deliveries.length >= count);
    });

    it('expires a run older than the 7-day retention (reason retention) without polling it', async () => {
      const clock = new TestClock();
      const { sandbox, zapier } = await setup({ clock });
      sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 0 });
      const lost = await zapier.client.createActionRun({
        ...SAMPLE_RUN,
        metadata: { orderId: 3 },
      });
      const answered = await zapier.client.createActionRun(SAMPLE_RUN);
      await zapier.listener.waitFor(1);
      await zapier.poller.tick();
      assert.equal(polls(sandbox).length, 0, 'not overdue yet');

      clock.advance(7 * DAY + MINUTE);
      sandbox.queueOutcome({ status: 'success', callback: 'never' });
      const fresh = await zapier.client.createActionRun(SAMPLE_RUN);
      await zapier.poller.tick();
      await zapier.listener.waitFor(2);
      const [heard] = zapier.listener.forRun(lost.id);
      assert.equal(heard.name, 'zapier.run.expired');
      assert.equal(heard.event.reason, 'retention');
      assert.deepEqual(heard.event.metadata, { orderId: 3 });
      const row = await readRun(zapier.dataSource, lost.id);
      assert.equal(heard.event.submittedAt?.getTime(), row?.submittedAt);
      assert.equal(row?.status, 'expired');
      assert.equal(row?.expiredReason, 'retention');
      assert.equal(polls(sandbox, lost.id).length, 0);
      // A run that completed, and one submitted after the jump, are left alone.
      assert.equal((await readRun(zapier.dataSource, answered.id))?.status, 'success');
      assert.equal((await readRun(zapier.dataSource, fresh.id))?.status, 'pending');
      await zapier.poller.tick();
      await awaitMarkerEvent(zapier, sandbox.signer, 'arun_after_expiry', {
        issuedAt: new Date(clock.now()),
      });
      assert.equal(zapier.listener.forRun(lost.id).length, 1);
      assert.equal(zapier.listener.events.length, 3);
    });
  },
  ['sqlite', 'postgres', 'mariadb'],
);
