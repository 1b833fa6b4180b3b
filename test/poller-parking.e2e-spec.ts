import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ZapierRunsService } from '../src/index.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { startDelayingProxy } from './support/delaying-proxy.js';
import { engineSkipReasons } from './support/data-sources.js';
import {
  describeOnEachEngine,
  MINUTE,
  polls,
  readRun,
  sleep,
  TestClock,
} from './support/zapier-harness.js';
import { SAMPLE_RUN } from './support/sample-runs.js';
import type { RecordingListener } from './support/recording-listener.js';
import type { ZapierSandbox } from '../src/testing/index.js';
import type { ZapierClient } from '../src/client/zapier.client.js';
import type { ZapierOverdueRunPoller } from '../src/poller/zapier-overdue-run.poller.js';

const skips = await engineSkipReasons();

/** A result `levels` arrays and objects deep, as a third-party action may return. */
function nestedResult(levels: number): Record<string, unknown> {
  let value: unknown = 'leaf';
  for (let i = 1; i < levels; i++) value = i % 2 === 0 ? [value] : { inner: value };
  return { inner: value };
}

/**
 * Starts three good runs due after the bad one, ticks the poller once, and checks that all three
 * were recovered in that round: the bad run did not stop it.
 */
async function recoversGoodRunsDueAfterIt(
  sandbox: ZapierSandbox,
  zapier: { client: ZapierClient; poller: ZapierOverdueRunPoller; listener: RecordingListener },
  clock: TestClock,
): Promise<string[]> {
  const good: string[] = [];
  for (let i = 0; i < 3; i++) {
    await sleep(5);
    sandbox.queueOutcome({ status: 'success', results: [{ n: i }], callback: 'never', delayMs: 0 });
    good.push((await zapier.client.createActionRun(SAMPLE_RUN)).id);
  }
  clock.advance(2 * MINUTE);
  await zapier.poller.tick();
  await zapier.listener.waitFor(3);
  assert.deepEqual(
    zapier.listener.events.map((heard) => heard.event.runId).sort(),
    [...good].sort(),
  );
  return good;
}

describeOnEachEngine(
  'poller parking a run whose result cannot be stored',
  'h2_poller_parking',
  skips,
  (setup, _engine, cleanups) => {
    it('parks a run whose polled result is nested deeper than JSON.stringify can go, and recovers the others in the same round', async () => {
      const clock = new TestClock();
      let deep = '';
      // 200 000 levels: JSON.parse reads it, JSON.stringify (recursive) overflows the stack.
      const levels = 200_000;
      const text = `{"data":{"type":"run","status":"success","results":[${'['.repeat(levels)}${']'.repeat(levels)}]}}`;
      const { sandbox, zapier } = await setup({
        clock,
        zapier: async (sandbox) => {
          const proxy = await startDelayingProxy(
            sandbox.url,
            () => 0,
            (method, path) =>
              method === 'GET' && path === `/v2/action-runs/${deep}`
                ? { status: 200, text }
                : undefined,
          );
          cleanups.push(() => proxy.close());
          return { apiBaseUrl: proxy.url };
        },
      });
      sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 0 });
      deep = (await zapier.client.createActionRun(SAMPLE_RUN)).id;
      await recoversGoodRunsDueAfterIt(sandbox, zapier, clock);
      const row = await readRun(zapier.dataSource, deep);
      assert.equal(row?.status, 'pending');
      assert.equal(row?.pollNextAt, null);
      assert.equal(row?.pollLastError, ZapierMessages.jsonTooDeep('results', 64));
      assert.equal(zapier.logger.find('error', /Polling overdue runs failed/).length, 0);
      assert.deepEqual(
        (await zapier.app.get(ZapierRunsService).findUnstorable()).map((run) => run.runId),
        [deep],
      );
    });

    it('parks a run whose result is nested too deep and recovers the runs due after it in the same round', async () => {
      const clock = new TestClock();
      const { sandbox, zapier } = await setup({ clock });
      // Due first: the deep one. 65 levels in the object inside results, 66 with the array.
      sandbox.queueOutcome({
        status: 'success',
        results: [nestedResult(65)],
        callback: 'never',
        delayMs: 0,
      });
      const deep = (await zapier.client.createActionRun(SAMPLE_RUN)).id;
      const good = await recoversGoodRunsDueAfterIt(sandbox, zapier, clock);
      const reason = ZapierMessages.jsonTooDeep('results', 64);
      const parked = await readRun(zapier.dataSource, deep);
      assert.equal(parked?.status, 'pending');
      assert.equal(parked?.pollNextAt, null);
      assert.equal(parked?.pollClaimedBy, null);
      assert.equal(parked?.pollAttempts, 1);
      assert.equal(parked?.pollLastError, reason);
      assert.equal(parked?.results, null);
      assert.equal(
        zapier.logger.find('warn', ZapierMessages.pollResultParked(deep, reason)).length,
        1,
      );
      assert.equal(zapier.logger.find('error', /Polling overdue runs failed/).length, 0);

      const runs = zapier.app.get(ZapierRunsService);
      assert.deepEqual(
        (await runs.findUnstorable()).map((run) => [run.runId, run.pollLastError]),
        [[deep, reason]],
      );

      // Not read again: the later rounds find nothing due.
      clock.advance(60 * MINUTE);
      await zapier.poller.tick();
      assert.equal(polls(sandbox, deep).length, 1);

      // repoll() makes it due at once; its result is still too deep, so it is parked again.
      assert.equal(await runs.repoll(good[0]), false, 'a completed run is not parked');
      assert.equal(await runs.repoll(deep), true);
      assert.equal((await readRun(zapier.dataSource, deep))?.pollLastError, null);
      await zapier.poller.tick();
      assert.equal(polls(sandbox, deep).length, 2);
      assert.equal((await readRun(zapier.dataSource, deep))?.pollLastError, reason);
      assert.equal(zapier.listener.events.length, 3);
    });

    it('parks a run whose errors hold more values than resultLimits.maxValues', async () => {
      const clock = new TestClock();
      const { sandbox, zapier } = await setup({
        clock,
        zapier: { resultLimits: { maxValues: 50 } },
      });
      const errors = Array.from({ length: 20 }, (_v, i) => ({
        code: 'user',
        title: `t${i}`,
        detail: 'd',
      }));
      sandbox.queueOutcome({ status: 'error', errors, callback: 'never', delayMs: 0 });
      const big = (await zapier.client.createActionRun(SAMPLE_RUN)).id;
      await sleep(5);
      sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 0 });
      const small = (await zapier.client.createActionRun(SAMPLE_RUN)).id;
      clock.advance(2 * MINUTE);
      await zapier.poller.tick();
      await zapier.listener.waitFor(1);
      assert.equal(zapier.listener.events[0].event.runId, small);
      assert.equal(
        (await readRun(zapier.dataSource, big))?.pollLastError,
        ZapierMessages.jsonTooManyValues('errors', 50),
      );
      const runs = zapier.app.get(ZapierRunsService);
      assert.deepEqual(
        (await runs.findUnstorable()).map((run) => run.runId),
        [big],
      );
    });
  },
  ['sqlite', 'postgres', 'mariadb'],
);
