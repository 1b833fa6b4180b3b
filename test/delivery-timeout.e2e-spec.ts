import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ZapierSandbox } from '../src/testing/index.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { freshDatabase, type Engine } from './support/data-sources.js';
import { postgresSkipReason } from './support/postgres.js';
import { rows, sendCallback } from './support/callbacks.js';
import { eventually } from './support/zapier-harness.js';
import { startZapierApp, type ZapierApp, type ZapierAppOptions } from './support/zapier-app.js';
import { AppFleet } from './support/app-fleet.js';

const pgSkip = await postgresSkipReason();

/** What the module's inspector calls `RecordingListener`'s listener of completed runs. */
const LISTENER = ['RecordingListener.completed()'];

type Row = Record<string, unknown>;

async function runRow(zapier: ZapierApp, runId: string): Promise<Row | undefined> {
  return (await rows(zapier.dataSource, 'zapier_action_runs')).find((row) => row.run_id === runId);
}

/** Entries of any of the apps' loggers: Nest's Logger is process-wide, so in-process apps share. */
function logged(apps: readonly ZapierApp[], level: 'warn' | 'error', message: string | RegExp) {
  return apps.flatMap((zapier) => zapier.logger.find(level, message));
}

for (const engine of ['sqlite', 'postgres'] as Engine[]) {
  describe(
    `listeners that never return, on ${engine}`,
    { skip: engine === 'postgres' && pgSkip },
    () => {
      let sandbox: ZapierSandbox;
      const fleet = new AppFleet(engine, `delivery_timeout_${engine}`, () => sandbox);
      const apps = fleet.apps;
      const start = fleet.start.bind(fleet);

      before(async () => {
        sandbox = await ZapierSandbox.start({ rateLimit: false });
      });
      afterEach(async () => {
        await fleet.closeAll();
      });
      after(() => sandbox.stop());

      it('fails a hung attempt after timeoutMs, retries it with backoff, parks it, names the listener, and keeps delivering other runs', async () => {
        const timeoutMs = 200;
        const zapier = await start('hung', {
          zapier: {
            delivery: {
              timeoutMs,
              concurrency: 1,
              maxAttempts: 3,
              retryBaseDelayMs: 50,
              maxRetryDelayMs: 100,
              sweepIntervalMs: 50,
            },
          },
        });
        zapier.listener.hanging.add('arun_hung');
        const send = async (id: string) =>
          assert.equal(
            (await sendCallback(zapier.url, sandbox.signer, { id, status: 'success' })).status,
            200,
          );
        await send('arun_hung');
        await eventually('the hung attempt started', () => zapier.listener.started.length === 1);
        const others = ['arun_ok_1', 'arun_ok_2', 'arun_ok_3'];
        for (const id of others) await send(id);

        // The only slot is taken by a listener that never returns, yet the others get through.
        await zapier.listener.waitFor(others.length, 5000);
        assert.deepEqual(zapier.listener.events.map((e) => e.event.runId).sort(), others);
        const meanwhile = await runRow(zapier, 'arun_hung');
        assert.equal(meanwhile?.delivery_state, 'pending', 'still being retried meanwhile');

        await eventually(
          'the hung run parked',
          async () => (await runRow(zapier, 'arun_hung'))?.delivery_state === 'parked',
          10_000,
        );
        const parked = await runRow(zapier, 'arun_hung');
        assert.equal(Number(parked?.delivery_attempts), 3);
        assert.equal(parked?.delivery_claimed_by, null);
        assert.equal(parked?.delivery_claim_until, null);
        const error = ZapierMessages.deliveryTimeoutError(timeoutMs, LISTENER);
        assert.equal(parked?.delivery_last_error, error);
        assert.deepEqual(
          zapier.listener.started.filter((call) => call.startsWith('arun_hung')),
          ['arun_hung#1', 'arun_hung#2', 'arun_hung#3'],
        );
        for (const attempt of [1, 2, 3]) {
          assert.equal(
            logged(
              apps,
              'warn',
              ZapierMessages.deliveryTimedOut('arun_hung', attempt, timeoutMs, LISTENER),
            ).length,
            1,
            `attempt ${attempt} timed out, naming the listener`,
          );
        }
        assert.equal(
          logged(apps, 'warn', /^Run arun_hung: a listener failed on attempt [12] \(timed out/)
            .length,
          2,
        );
        assert.equal(
          logged(apps, 'error', ZapierMessages.deliveryParked('arun_hung', 3, error)).length,
          1,
        );
        for (const id of others)
          assert.equal((await runRow(zapier, id))?.delivery_state, 'delivered');
        // Three listener calls still hang; the app closes all the same (afterEach).
      });
    },
  );
}

describe(
  'two instances on one PostgreSQL, one with listeners that never return',
  { skip: pgSkip },
  () => {
    let sandbox: ZapierSandbox;
    const apps: ZapierApp[] = [];

    before(async () => {
      sandbox = await ZapierSandbox.start({ rateLimit: false });
    });
    afterEach(async () => {
      for (const app of apps.splice(0)) await app.close();
    });
    after(() => sandbox.stop());

    async function pair(name: string, hung: ZapierAppOptions['zapier']['delivery']) {
      const db = await freshDatabase('postgres', `delivery_timeout_pair_${name}`);
      const start = (instanceId: string, delivery: ZapierAppOptions['zapier']['delivery']) =>
        startZapierApp({
          adapter: 'express',
          database: db.options,
          zapier: { jwksUrl: sandbox.jwksUrl, instanceId, delivery },
        });
      const stuck = await start('stuck', { sweepIntervalMs: 100, ...hung });
      apps.push(stuck);
      const healthy = await start('healthy', { sweepIntervalMs: 100, retryBaseDelayMs: 50 });
      apps.push(healthy);
      return { stuck, healthy };
    }

    async function send(zapier: ZapierApp, id: string): Promise<void> {
      const answer = await sendCallback(zapier.url, sandbox.signer, { id, status: 'success' });
      assert.equal(answer.status, 200);
    }

    it('leaves results unclaimed once its slots are full, and the other instance delivers each once', async () => {
      // Two slots and two places in the queue; nothing times out during the test.
      const { stuck, healthy } = await pair('full', {
        concurrency: 2,
        timeoutMs: 60_000,
        leaseMs: 1000,
      });
      const release = stuck.listener.hold();
      const first = ['arun_fill_1', 'arun_fill_2', 'arun_fill_3', 'arun_fill_4'];
      for (const id of first) await send(stuck, id);
      await eventually('both slots taken', () => stuck.listener.started.length === 2);
      for (const id of first) assert.equal((await runRow(stuck, id))?.delivery_claimed_by, 'stuck');

      const later = Array.from({ length: 20 }, (_, i) => `arun_later_${i}`);
      for (const id of later) await send(stuck, id);
      await healthy.listener.waitFor(later.length, 10_000);
      const heard = healthy.listener.events.map((e) => e.event.runId);
      assert.deepEqual(
        [...heard].sort(),
        [...later].sort(),
        'each later run heard once, by the healthy instance',
      );
      assert.equal(stuck.listener.started.length, 2, 'the stuck instance took nothing more');
      // Its own claims are still renewed (leaseMs is 1 s): the healthy instance does not take them.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      for (const id of first) {
        const row = await runRow(stuck, id);
        assert.equal(row?.delivery_claimed_by, 'stuck');
        assert.equal(row?.delivery_state, 'pending');
      }

      release();
      await stuck.listener.waitFor(first.length, 5000);
      await eventually('every run delivered', async () =>
        (await rows(stuck.dataSource, 'zapier_action_runs')).every(
          (row) => row.delivery_state === 'delivered',
        ),
      );
      const all = [...stuck.listener.events, ...healthy.listener.events].map((e) => e.event.runId);
      for (const id of [...first, ...later]) {
        assert.equal(all.filter((runId) => runId === id).length, 1, `${id} heard once`);
      }
    });

    it('hands a run whose attempt timed out to the other instance, and a late end changes nothing', async () => {
      // The stuck instance does not sweep on its own during the test, so the retry is the other's.
      const timeoutMs = 300;
      const { stuck, healthy } = await pair('timeout', {
        concurrency: 1,
        timeoutMs,
        sweepIntervalMs: 60_000,
        retryBaseDelayMs: 50,
      });
      const release = stuck.listener.hold();
      await send(stuck, 'arun_late');
      await healthy.listener.waitFor(1, 5000);
      const [delivered] = healthy.listener.events;
      assert.equal(delivered.event.runId, 'arun_late');
      assert.equal(delivered.event.attempt, 2, 'the timed-out attempt counted as attempt 1');
      assert.deepEqual(stuck.listener.started, ['arun_late#1']);
      assert.equal(
        logged(apps, 'warn', ZapierMessages.deliveryTimedOut('arun_late', 1, timeoutMs, LISTENER))
          .length,
        1,
      );
      await eventually(
        'delivered',
        async () => (await runRow(healthy, 'arun_late'))?.delivery_state === 'delivered',
      );
      const before = await runRow(healthy, 'arun_late');

      // The hung listener returns at last: it is heard (at least once), and the row stays as it is.
      release();
      await stuck.listener.waitFor(1, 5000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const after = await runRow(healthy, 'arun_late');
      assert.equal(after?.delivery_state, 'delivered');
      assert.equal(after?.delivery_claimed_by, null);
      assert.equal(after?.delivery_claim_until, null);
      assert.equal(Number(after?.delivery_attempts), 2);
      assert.equal(String(after?.delivered_at), String(before?.delivered_at));
      assert.equal(healthy.listener.events.length, 1);
    });
  },
);
