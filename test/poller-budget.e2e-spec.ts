import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ZapierRequestBudget } from '../src/budget/zapier-request-budget.js';
import type { ZapierModuleOptions } from '../src/interfaces/zapier-module-options.interface.js';
import type { ZapierSandbox } from '../src/testing/zapier-sandbox.js';
import { engineSkipReasons, freshDatabase, type Engine } from './support/data-sources.js';
import {
  maxInWindow,
  polls,
  readRuns,
  sleep,
  startPollerApp,
  startSandbox,
  type PollerApp,
} from './support/zapier-harness.js';
import { SAMPLE_RUN } from './support/sample-runs.js';

const skips = await engineSkipReasons();

/**
 * The sandbox's clock runs this many times faster than the module's, so one of Zapier's 60 s
 * windows (and the sandbox's 429 limiter) passes in 6 real seconds and a backlog drains through
 * several of them in a few seconds.
 */
const SPEED = 10;
/** Zapier's limit as the sandbox enforces it: 60 requests a sandbox minute (600 a real one). */
const ZAPIER_PER_MINUTE = 600;
/**
 * The module's budget: 90% of Zapier's limit, the headroom the default keeps too (50 under 60).
 * The compressed clock also shrinks the budget's 500 ms spacing margin tenfold, to 50 ms of real
 * time, less than a blocking SQLite commit can delay one request; so the sliding-window count
 * allows that one late request (+1), and the headroom keeps the no-429 check exact.
 */
const BUDGET = 540;
const SCALED_BUDGET = BUDGET / SPEED;

for (const engine of ['sqlite', 'postgres', 'mariadb'] as Engine[]) {
  describe(`request budget (${engine})`, { skip: skips[engine] }, () => {
    let seq = 0;
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setup(
      zapier: ZapierModuleOptions,
    ): Promise<{ sandbox: ZapierSandbox; app: PollerApp; toReal(at: number): number }> {
      const origin = Date.now();
      const { sandbox, target } = await startSandbox({
        now: () => origin + (Date.now() - origin) * SPEED,
        rateLimit: { perMinute: ZAPIER_PER_MINUTE / SPEED, cooldownMs: 60_000 },
      });
      cleanups.push(() => sandbox.stop());
      const db = await freshDatabase(engine, `h2_budget_${engine}_${++seq}`);
      cleanups.push(db.cleanup);
      const app = await startPollerApp({ sandbox, database: db.options, zapier });
      cleanups.push(() => app.close());
      target.url = app.url;
      return { sandbox, app, toReal: (at) => origin + (at - origin) / SPEED };
    }

    it('drains a backlog at the budget, creates included, oldest first, with no 429', async () => {
      const { sandbox, app, toReal } = await setup({
        polling: { intervalMs: 25, overdueAfterMs: 500, maxRequestsPerMinute: BUDGET },
      });
      const interval = app.app.get(ZapierRequestBudget).intervalMs;
      assert.equal(interval, Math.ceil(60_500 / BUDGET));
      const count = 40;
      for (let i = 0; i < count; i++)
        sandbox.queueOutcome({ status: 'success', callback: 'never' });
      const started = Date.now();
      // All at once: the creates queue for their slots like the polls.
      const ids = (
        await Promise.all(
          Array.from({ length: count }, (_, i) =>
            app.client.createActionRun({ ...SAMPLE_RUN, metadata: { i } }),
          ),
        )
      ).map((run) => run.id);
      await app.listener.waitFor(count, 20_000);
      const took = Date.now() - started;

      assert.equal(sandbox.rateLimited, 0);
      const at = sandbox.requests.map((request) => request.at);
      assert.equal(at.length, 2 * count);
      const busiest = maxInWindow(at, 60_000);
      assert.ok(busiest <= SCALED_BUDGET + 1, `${busiest} requests in one (scaled) minute`);
      // Close to the budget: 80 requests, one slot apart, and little idle time in between.
      const span = toReal(at.at(-1)!) - toReal(at[0]);
      assert.ok(span >= (2 * count - 1) * (60_000 / BUDGET) - 50, `span ${span} ms`);
      assert.ok(took < 2 * count * interval * 1.3 + 1000, `drained in ${took} ms`);

      // Oldest first: runs were first polled in the order they were submitted.
      const rows = await readRuns(app.dataSource);
      const bySubmission = [...rows]
        .sort((a, b) => a.submittedAt! - b.submittedAt!)
        .map((row) => row.runId);
      const firstPolls = polls(sandbox).map((request) => request.path.split('/').at(-1));
      assert.deepEqual(firstPolls, bySubmission);
      assert.deepEqual(new Set(firstPolls), new Set(ids));
      for (const id of ids) assert.equal(app.listener.forRun(id).length, 1);
      assert.ok(rows.every((row) => row.status === 'success' && row.source === 'poll'));
    });

    it('does not starve a newer run behind older runs that stay pending', async () => {
      const { sandbox, app, toReal } = await setup({
        polling: {
          intervalMs: 25,
          overdueAfterMs: 200,
          maxRequestsPerMinute: BUDGET,
          // Every old run asks to be polled again every ~0.5 s: far more than the budget allows.
          initialBackoffMs: 300,
          maxBackoffMs: 500,
        },
      });
      const interval = app.app.get(ZapierRequestBudget).intervalMs;
      const old = 15;
      for (let i = 0; i < old; i++) {
        sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 60_000 });
      }
      const oldIds = (
        await Promise.all(Array.from({ length: old }, () => app.client.createActionRun(SAMPLE_RUN)))
      ).map((run) => run.id);
      await sleep(2500);
      const fresh = [];
      for (let i = 0; i < 3; i++) {
        sandbox.queueOutcome({ status: 'success', callback: 'never' });
        fresh.push(await app.client.createActionRun(SAMPLE_RUN));
      }
      await app.listener.waitFor(3, 10_000);
      for (const { id } of fresh) {
        const row = (await readRuns(app.dataSource, id))[0];
        const [first] = polls(sandbox, id);
        const waited = toReal(first.at) - (row.submittedAt! + 200);
        // Behind at most the old runs that fell due first, one slot each.
        assert.ok(waited < (old + 3) * interval + 500, `${id} waited ${waited} ms once due`);
        assert.equal(app.listener.forRun(id).length, 1);
      }
      // The old runs kept their turns too, and the budget held throughout.
      for (const id of oldIds) assert.ok(polls(sandbox, id).length >= 2);
      assert.equal(sandbox.rateLimited, 0);
      assert.ok(
        maxInWindow(
          sandbox.requests.map((request) => request.at),
          60_000,
        ) <=
          SCALED_BUDGET + 1,
      );
    });
  });
}
