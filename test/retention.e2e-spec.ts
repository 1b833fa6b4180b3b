import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SchedulerRegistry } from '@nestjs/schedule';
import { ZAPIER_RETENTION_JOB } from '../src/zapier.constants.js';
import { ZapierRunsService } from '../src/runs/zapier-runs.service.js';
import { ZapierRunLifecycle } from '../src/runs/zapier-run-lifecycle.js';
import { ZapierPruneScheduler } from '../src/runs/zapier-prune.scheduler.js';
import type { ZapierCallbackInput, ZapierSandbox } from '../src/testing/index.js';
import { postCallback, rows, signedRaw } from './support/callbacks.js';
import { engineSkipReasons, freshDatabase, type Engine } from './support/data-sources.js';
import {
  eventually,
  readRuns,
  startPollerApp,
  startSandbox,
  TestClock,
  type PollerApp,
} from './support/zapier-harness.js';

const DAY = 24 * 60 * 60 * 1000;

const skips = await engineSkipReasons();

for (const engine of ['sqlite', 'postgres', 'mariadb'] as Engine[]) {
  describe(`retention (${engine}, with a moved clock)`, () => {
    const skip = skips[engine];
    const clock = new TestClock();
    let sandbox: ZapierSandbox;
    let app: PollerApp;
    let runs: ZapierRunsService;
    let cleanup: () => void;
    const runIds = async () => (await readRuns(app.dataSource)).map((run) => run.runId).sort();
    /** Signed at the moved clock's time, as Zapier would sign it that day. */
    const send = async (payload: ZapierCallbackInput) =>
      postCallback(
        app.url,
        await sandbox.signer.callbackRequest(payload, { issuedAt: new Date(clock.now()) }),
      );
    const pruneLogs = () =>
      app.logger.entries.filter((entry) => entry.message.startsWith('Pruned '));

    before(async () => {
      if (skip) return;
      let target: { url: string | null };
      ({ sandbox, target } = await startSandbox({
        now: () => clock.now(),
        outcome: () => ({ status: 'success', results: [], callback: 'never' }),
      }));
      const database = await freshDatabase(engine, `retention_${engine}`);
      cleanup = database.cleanup;
      app = await startPollerApp({
        sandbox,
        database: database.options,
        clock,
        zapier: {
          delivery: { maxAttempts: 1 },
          retention: { parkedMs: 40 * DAY, batchSize: 2 },
        },
      });
      target.url = app.url;
      runs = app.app.get(ZapierRunsService);
    });
    after(async () => {
      if (skip) return;
      await app.close();
      await sandbox.stop();
      cleanup();
    });

    it('schedules itself as a named interval', { skip }, () => {
      assert.ok(app.app.get(SchedulerRegistry).doesExist('interval', ZAPIER_RETENTION_JOB));
    });

    it('keeps each kind for its own time, then deletes it in batches', { skip }, async () => {
      // Day 0: five delivered runs, a quarantined body, a parked run and a pending one.
      const old = ['arun_old_1', 'arun_old_2', 'arun_old_3', 'arun_old_4', 'arun_old_5'];
      for (const id of old) await send({ id, status: 'success' });
      const invalid = await postCallback(app.url, await signedRaw(sandbox.signer, '{"data":{}}'));
      assert.equal(invalid.status, 400);
      await eventually('five deliveries', () => app.listener.events.length === 5);
      app.listener.failures = 1;
      await send({ id: 'arun_parked', status: 'error' });
      await eventually(
        'the parked run',
        async () => (await readRuns(app.dataSource, 'arun_parked'))[0]?.deliveryState === 'parked',
      );
      app.listener.failures = 0;
      const { id: pending } = await app.client.createActionRun({
        action: 'never-calls-back',
        inputs: {},
        authentication: null,
      });

      // Day 8: the pending run is past Zapier's retention: expired, and its event delivered.
      clock.advance(8 * DAY);
      assert.equal(await app.app.get(ZapierRunLifecycle).expireRetained(), 1);
      await eventually(
        'the expired event delivered',
        async () => (await readRuns(app.dataSource, pending))[0]?.deliveryState === 'delivered',
      );
      // Day 20: one more delivered run.
      clock.advance(12 * DAY);
      await send({ id: 'arun_recent', status: 'success' });
      await eventually(
        'the recent delivery',
        async () =>
          (await readRuns(app.dataSource, 'arun_recent'))[0]?.deliveryState === 'delivered',
      );

      // Day 31: the day-0 deliveries and the body are past their 30 and 7 days; the rest is not.
      clock.advance(11 * DAY);
      const expected = { delivered: 5, expired: 0, parked: 0, quarantined: 1 };
      assert.deepEqual(await runs.prune({ dryRun: true }), { dryRun: true, ...expected });
      assert.equal((await runIds()).length, 8, 'a dry run deletes nothing');
      assert.deepEqual(await runs.prune(), { dryRun: false, ...expected });
      assert.deepEqual(await runIds(), ['arun_parked', 'arun_recent', pending].sort());
      assert.deepEqual(await rows(app.dataSource, 'zapier_callback_quarantine'), []);
      assert.deepEqual(
        pruneLogs().map((entry) => [entry.level, entry.context, entry.message]),
        [['log', 'ZapierStorage', 'Pruned 5 delivered, 1 quarantined (retention options).']],
      );

      // Day 41: the expired run (delivered on day 8) and the parked one (day 0, parkedMs 40 days).
      clock.advance(10 * DAY);
      await app.app.get(ZapierPruneScheduler).tick();
      assert.deepEqual(await runIds(), ['arun_recent']);
      assert.equal(pruneLogs().at(-1)?.message, 'Pruned 1 expired, 1 parked (retention options).');
      assert.deepEqual(await runs.prune(), {
        dryRun: false,
        delivered: 0,
        expired: 0,
        parked: 0,
        quarantined: 0,
      });
      assert.equal(pruneLogs().length, 2, 'nothing removed, nothing logged');
    });

    it('keeps a run re-driven since it was parked', { skip }, async () => {
      app.listener.failures = 1;
      await send({ id: 'arun_redriven', status: 'success' });
      await eventually(
        'the parked run',
        async () =>
          (await readRuns(app.dataSource, 'arun_redriven'))[0]?.deliveryState === 'parked',
      );
      app.listener.failures = 0;
      clock.advance(41 * DAY);
      assert.equal(await runs.redeliver('arun_redriven'), true);
      await eventually(
        'the redelivery',
        async () =>
          (await readRuns(app.dataSource, 'arun_redriven'))[0]?.deliveryState === 'delivered',
      );
      const report = await runs.prune();
      assert.equal(report.parked, 0);
      assert.ok((await runIds()).includes('arun_redriven'), 'delivered today: kept 30 days');
    });
  });
}
