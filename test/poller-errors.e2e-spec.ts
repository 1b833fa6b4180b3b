import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SchedulerRegistry } from '@nestjs/schedule';
import { ZAPIER_POLLER_JOB } from '../src/zapier.constants.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import type { RunCompletedEvent } from '../src/events/run-completed.event.js';
import { startDelayingProxy } from './support/delaying-proxy.js';
import { engineSkipReasons } from './support/data-sources.js';
import {
  describeOnEachEngine,
  DAY,
  eventually,
  FAST_POLLING,
  MINUTE,
  polls,
  readBudget,
  readRun,
  readRuns,
  sleep,
  TestClock,
} from './support/zapier-harness.js';
import { SAMPLE_RUN } from './support/sample-runs.js';

const skips = await engineSkipReasons();

describeOnEachEngine(
  "poller facing Zapier's errors",
  'h2_poller_errors',
  skips,
  (setup, _engine, cleanups) => {
    it('reschedules a poll that failed with a 5xx and recovers later', async () => {
      const { sandbox, zapier } = await setup({ zapier: { polling: FAST_POLLING } });
      sandbox.queueOutcome({ status: 'success', callback: 'never', failPolls: 2 });
      const { id } = await zapier.client.createActionRun(SAMPLE_RUN);
      await eventually('the first 503', () => polls(sandbox, id).length >= 1);
      await eventually('the failure to be recorded', async () => {
        const row = await readRun(zapier.dataSource, id);
        return row?.pollLastError !== null && row?.pollClaimedBy === null;
      });
      const row = await readRun(zapier.dataSource, id);
      assert.equal(row?.status, 'pending');
      assert.equal(
        row?.pollLastError,
        ZapierMessages.apiErrorStatus('GET', runPath(id), 503, 'Scripted 503 answer to a poll.'),
      );
      assert.ok((row?.pollNextAt ?? 0) > polls(sandbox, id)[0].at);
      await zapier.listener.waitFor(1);
      assert.deepEqual(
        polls(sandbox, id).map((request) => request.status),
        [503, 503, 200],
      );
      assert.equal((zapier.listener.events[0].event as RunCompletedEvent).source, 'poll');
      await sleep(200);
      assert.equal(zapier.listener.events.length, 1);
      assert.equal(polls(sandbox, id).length, 3);
    });

    it('reschedules a poll whose answer stalls past requestTimeoutMs, releasing its claim', async () => {
      let stalls = 1;
      let proxy: Awaited<ReturnType<typeof startDelayingProxy>> | undefined;
      const { sandbox, zapier } = await setup({
        zapier: async (sandbox) => {
          // The first poll's answer starts, then stalls for 3 s mid-body.
          proxy = await startDelayingProxy(
            sandbox.url,
            () => 0,
            (method) =>
              method === 'GET' && stalls-- > 0
                ? { status: 200, body: { data: { status: 'success' } }, stallBodyMs: 3000 }
                : undefined,
          );
          cleanups.push(() => proxy?.close());
          return { apiBaseUrl: proxy.url, requestTimeoutMs: 300, polling: FAST_POLLING };
        },
      });
      sandbox.queueOutcome({ status: 'success', results: [{ n: 2 }], callback: 'never' });
      const { id } = await zapier.client.createActionRun(SAMPLE_RUN);
      await eventually('the stalled poll to be given up', async () => {
        const row = await readRun(zapier.dataSource, id);
        return row?.pollLastError !== null && row?.pollClaimedBy === null;
      });
      const row = await readRun(zapier.dataSource, id);
      assert.equal(row?.status, 'pending');
      assert.equal(row?.pollLastError, ZapierMessages.noResponse('GET', runPath(id), 'timed out'));
      assert.equal(row?.pollAttempts, 1);
      await zapier.listener.waitFor(1, 3000);
      assert.deepEqual(zapier.listener.events[0].event.runId, id);
      assert.equal(zapier.logger.find('error', /Polling overdue runs failed/).length, 0);
    });

    it('records a poll whose answer exceeds responseBodyLimit as a failure, storing no results', async () => {
      const limit = 64 * 1024;
      const { sandbox, zapier } = await setup({
        zapier: { polling: FAST_POLLING, responseBodyLimit: limit },
      });
      sandbox.queueOutcome({
        status: 'success',
        results: [{ blob: 'x'.repeat(2 * limit) }],
        callback: 'never',
        delayMs: 0,
      });
      const { id } = await zapier.client.createActionRun(SAMPLE_RUN);
      await eventually('the failed poll to be recorded', async () => {
        const row = await readRun(zapier.dataSource, id);
        return row?.pollLastError != null && row?.pollClaimedBy === null;
      });
      const row = await readRun(zapier.dataSource, id);
      assert.equal(
        row?.pollLastError,
        ZapierMessages.apiResponseTooLarge('GET', runPath(id), 200, limit),
      );
      assert.equal(row?.status, 'pending');
      assert.equal(row?.results, null);
      assert.equal(zapier.listener.events.length, 0);
    });

    it('retries a young 404 and expires the run (not-found) once past the grace period', async () => {
      const clock = new TestClock();
      const { sandbox, zapier } = await setup({
        clock,
        // The sandbox forgets runs at once: every poll answers 404.
        sandbox: { retentionMs: 0 },
        zapier: { polling: { ...FAST_POLLING, notFoundGraceMs: 10 * MINUTE } },
      });
      sandbox.queueOutcome({ status: 'success', callback: 'never' });
      const { id } = await zapier.client.createActionRun({
        ...SAMPLE_RUN,
        metadata: { orderId: 9 },
      });
      await eventually('two 404s', () => polls(sandbox, id).length >= 2);
      let row = await readRun(zapier.dataSource, id);
      assert.equal(row?.status, 'pending');
      assert.equal(
        row?.pollLastError,
        ZapierMessages.apiErrorStatus('GET', runPath(id), 404, `No action run with id "${id}".`),
      );
      assert.equal(zapier.listener.events.length, 0);

      clock.advance(11 * MINUTE);
      await zapier.listener.waitFor(1);
      const [heard] = zapier.listener.events;
      assert.equal(heard.name, 'zapier.run.expired');
      const expired = heard.event;
      assert.equal(expired.reason, 'not-found');
      assert.deepEqual(expired.metadata, { orderId: 9 });
      row = await readRun(zapier.dataSource, id);
      assert.equal(expired.submittedAt?.getTime(), row?.submittedAt);
      assert.equal(row?.status, 'expired');
      assert.equal(row?.expiredReason, 'not-found');
      assert.equal(row?.pollNextAt, null);
      const count = polls(sandbox, id).length;
      assert.ok(polls(sandbox, id).every((request) => request.status === 404));
      clock.advance(10 * DAY);
      await sleep(300);
      await zapier.poller.tick();
      assert.equal(polls(sandbox, id).length, count, 'never polled again');
      assert.equal(zapier.listener.events.length, 1);
    });

    it('pauses polling on a 401, logging one error per pause, and resumes with a good token', async () => {
      let token = 'sandbox-token';
      let tokenCalls = 0;
      const { sandbox, zapier } = await setup({
        zapier: {
          accessToken: () => {
            tokenCalls++;
            return token;
          },
          // Overdue well after the five creates below are done (they need the good token), on a
          // busy machine too: the first poll must be the first request with the revoked one.
          polling: { intervalMs: 20, overdueAfterMs: 2_000, authErrorPauseMs: 1500 },
        },
      });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        sandbox.queueOutcome({ status: 'success', callback: 'never' });
        ids.push((await zapier.client.createActionRun(SAMPLE_RUN)).id);
      }
      token = 'revoked-token';
      const callsBefore = tokenCalls;
      await eventually('the first refused poll', () => polls(sandbox).length > 0);
      const firstAt = polls(sandbox)[0].at;
      await sleep(1200);
      // One poll, retried once with a token asked for again, then nothing for the pause.
      assert.deepEqual(
        polls(sandbox).map((request) => request.status),
        [401, 401],
      );
      assert.equal(polls(sandbox)[0].path, polls(sandbox)[1].path);
      assert.equal(tokenCalls - callsBefore, 2);
      // authErrorPauseMs is 1.5 s, logged rounded.
      const refused = ZapierMessages.accessTokenRefused(401, 2);
      assert.equal(zapier.logger.find('error', refused).length, 1);

      await eventually('the poll after the pause', () => polls(sandbox).length > 2, 3000);
      assert.ok(polls(sandbox)[2].at - firstAt >= 1500, 'the pause was kept');
      await sleep(200);
      assert.equal(polls(sandbox).length, 4);
      assert.equal(zapier.logger.find('error', refused).length, 2);
      const rows = await readRuns(zapier.dataSource);
      assert.ok(rows.every((row) => row.status === 'pending'));

      token = 'sandbox-token';
      await zapier.listener.waitFor(5, 5000);
      assert.deepEqual(
        new Set(zapier.listener.events.map((heard) => heard.event.runId)),
        new Set(ids),
      );
      assert.equal(zapier.logger.find('error', refused).length, 2);
    });

    it('pauses polling on a 403 too, logging one error per pause, without asking for a token again', async () => {
      let forbidden = true;
      let tokenCalls = 0;
      let proxy: Awaited<ReturnType<typeof startDelayingProxy>> | undefined;
      const { sandbox, zapier } = await setup({
        zapier: async (sandbox) => {
          // The sandbox never answers 403 to a poll: a proxy in front of it does, until told not to.
          proxy = await startDelayingProxy(
            sandbox.url,
            () => 0,
            (method) =>
              method === 'GET' && forbidden
                ? { status: 403, body: { errors: [{ status: 403, code: 'forbidden' }] } }
                : undefined,
          );
          cleanups.push(() => proxy?.close());
          return {
            apiBaseUrl: proxy.url,
            accessToken: () => {
              tokenCalls++;
              return 'sandbox-token';
            },
            polling: { intervalMs: 20, overdueAfterMs: 300, authErrorPauseMs: 1000 },
          };
        },
      });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        sandbox.queueOutcome({ status: 'success', callback: 'never' });
        ids.push((await zapier.client.createActionRun(SAMPLE_RUN)).id);
      }
      const gets = () => proxy?.seen.filter((request) => request.method === 'GET') ?? [];
      await eventually('the first refused poll', () => gets().length > 0);
      const callsAfterFirst = tokenCalls;
      await sleep(800);
      assert.equal(gets().length, 1, 'one poll, not retried, then nothing for the pause');
      assert.equal(tokenCalls, callsAfterFirst, 'a 403 does not ask for a new token');
      const refused = ZapierMessages.accessTokenRefused(403, 1);
      assert.equal(zapier.logger.find('error', refused).length, 1);
      await eventually('the poll after the pause', () => gets().length > 1, 2000);
      await sleep(100);
      assert.equal(gets().length, 2);
      assert.equal(zapier.logger.find('error', refused).length, 2);
      forbidden = false;
      await zapier.listener.waitFor(3, 5000);
      assert.deepEqual(
        new Set(zapier.listener.events.map(({ event }) => event.runId)),
        new Set(ids),
      );
    });

    it('stops every request during a 429 storm until each cooldown has passed', async () => {
      const clock = new TestClock();
      const { sandbox, zapier } = await setup({
        clock,
        // Four creates and two polls fill the window; from then on each request that comes
        // after the cooldown still finds the window full and gets another 429 (a storm).
        sandbox: { rateLimit: { perMinute: 6, cooldownMs: 800 } },
        zapier: {
          polling: {
            intervalMs: 20,
            overdueAfterMs: 1000,
            initialBackoffMs: 50,
            maxRequestsPerMinute: 600,
          },
        },
      });
      for (let i = 0; i < 4; i++) {
        sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 60_000 });
        await zapier.client.createActionRun(SAMPLE_RUN);
      }
      await eventually('three 429s', () => sandbox.rateLimited >= 3, 8000);
      // A create sent during the storm waits for the cooldown like the polls. (The poller is
      // stopped first: it would otherwise take every slot right after each cooldown.)
      zapier.app.get(SchedulerRegistry).deleteInterval(ZAPIER_POLLER_JOB);
      await zapier.poller.tick();
      const before = sandbox.requests.length;
      sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 60_000 });
      const created = zapier.client.createActionRun(SAMPLE_RUN);
      await eventually(
        'the create to be refused too',
        () => sandbox.requests.some((r, i) => i >= before && r.method === 'POST'),
        5000,
      );
      const seen = [...sandbox.requests];
      const firstLimited = seen.findIndex((request) => request.status === 429);
      assert.equal(firstLimited, 6, 'the sandbox allowed six requests first');
      const storm = seen.slice(firstLimited);
      assert.ok(storm.every((request) => request.status === 429));
      // Retry-After said 1 s (0.8 s rounded up) each time: nothing was sent sooner.
      const gaps = storm.slice(1).map((request, i) => request.at - storm[i].at);
      assert.ok(
        gaps.every((gap) => gap >= 1000),
        `gaps after each 429: ${gaps.join(', ')} ms`,
      );
      await eventually('the cooldown to be recorded', async () => {
        const budget = await readBudget(zapier.dataSource);
        return budget !== undefined && budget.cooldownUntil >= storm.at(-1)!.at + 1000;
      });
      assert.equal(
        zapier.logger.find('warn', ZapierMessages.rateLimited(1)).length,
        storm.length,
        'one warning per cooldown',
      );
      const rows = await readRuns(zapier.dataSource);
      assert.ok(rows.every((row) => row.status === 'pending'));
      const answered = seen.filter((request) => request.method === 'GET' && request.status === 200);
      assert.equal(
        rows.reduce((sum, row) => sum + row.pollAttempts, 0),
        answered.length,
        'a 429 does not count as a poll attempt',
      );

      // Zapier's window empties: the create goes through on its retry, polls resume.
      clock.advance(MINUTE + 1000);
      const { id } = await created;
      assert.equal((await readRun(zapier.dataSource, id))?.status, 'pending');
      const resumedFrom = sandbox.requests.length;
      await zapier.poller.tick();
      const resumed = sandbox.requests[resumedFrom];
      assert.equal(resumed?.method, 'GET');
      assert.equal(resumed?.status, 200);
    });
  },
);

/** The path the client reads a run from. */
function runPath(id: string): string {
  return `/v2/action-runs/${encodeURIComponent(id)}`;
}
