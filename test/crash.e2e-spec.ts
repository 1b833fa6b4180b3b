import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import type { ZapierModuleOptions } from '../src/interfaces/zapier-module-options.interface.js';
import { ZapierSandbox } from '../src/testing/index.js';
import { migratedDataSource, type Engine } from './support/data-sources.js';
import {
  completedPerRun,
  createDeliveryLog,
  readDeliveryLog,
  readDeliveryStates,
} from './support/delivery-log.js';
import { postgresSkipReason } from './support/postgres.js';
import { eventually, polls, readRun } from './support/zapier-harness.js';
import { ZapierNodeProcess, type ZapierNodeConfig } from './support/zapier-node-process.js';

const pgSkip = await postgresSkipReason();

/**
 * Shortened timings, so a crash is recovered in seconds rather than in the default ~30 s leases
 * (`delivery.leaseMs` and `polling.leaseMs` 30000, `sweepIntervalMs` 5000): a dead instance's
 * claims run out after 3 s and the sweep looks every 250 ms.
 */
const LEASE_MS = 3000;
const FAST: ZapierModuleOptions = {
  requestTimeoutMs: 3000,
  delivery: { leaseMs: LEASE_MS, sweepIntervalMs: 250, retryBaseDelayMs: 200 },
  polling: {
    intervalMs: 200,
    overdueAfterMs: 300,
    initialBackoffMs: 500,
    cooldownMs: 1000,
    leaseMs: LEASE_MS,
  },
};

const RUN_INPUT = { action: 'act_crash', authentication: 'conn_1', inputs: { n: 1 } };

describe(
  'the process dies at the worst moment; every run still ends delivered',
  { concurrency: 2 },
  () => {
    for (const engine of ['postgres', 'sqlite'] as Engine[]) {
      describe(engine, { skip: engine === 'postgres' && pgSkip, concurrency: 1 }, () => {
        let sandbox: ZapierSandbox;
        let seq = 0;
        const cleanups: Array<() => Promise<unknown>> = [];

        before(async () => {
          sandbox = await ZapierSandbox.start({ rateLimit: false });
        });
        after(async () => {
          await sandbox?.stop();
        });
        afterEach(async () => {
          for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
        });

        /** A fresh database with the schema and the delivery log, and a way to start instances on it. */
        async function world(name: string) {
          const { dataSource, close } = await migratedDataSource(engine, `crash_${engine}_${name}`);
          cleanups.push(close);
          await createDeliveryLog(dataSource);
          const options = dataSource.options as { url?: string; database?: unknown };
          const database =
            engine === 'postgres'
              ? { url: String(options.url) }
              : { sqliteFile: String(options.database) };
          const start = async (
            label: string,
            extra: Partial<Omit<ZapierNodeConfig, 'database' | 'zapier'>> = {},
          ): Promise<ZapierNodeProcess> => {
            const node = await ZapierNodeProcess.start({
              instanceId: `${engine}-${name}-${label}-${++seq}`,
              database,
              zapier: {
                apiUrl: sandbox.url,
                jwksUrl: sandbox.jwksUrl,
                accessToken: sandbox.accessToken ?? 'any',
              },
              ...extra,
              options: {
                ...FAST,
                ...extra.options,
                delivery: { ...FAST.delivery, ...extra.options?.delivery },
                polling: { ...FAST.polling, ...extra.options?.polling },
              },
            });
            cleanups.push(() => node.crash());
            return node;
          };
          return { dataSource, start };
        }

        it('SIGKILL inside a listener: a restarted instance delivers the run once the dead claim runs out', async () => {
          const { dataSource, start } = await world('listener');
          const runId = `arun_kill_listener_${engine}`;
          const first = await start('a', { listener: { killOn: runId } });
          void sandbox.deliverCallback(`${first.url}/zapier/callbacks`, {
            id: runId,
            status: 'success',
            results: [{ ok: 1 }],
          });
          await first.waitForLine((line) => line.killing === runId, 10_000);
          assert.equal((await first.exited).signal, 'SIGKILL');

          const stored = (await readDeliveryStates(dataSource)).get(runId);
          assert.deepEqual(stored, {
            status: 'success',
            deliveryState: 'pending',
            claimedBy: first.instanceId,
          });
          assert.equal(completedPerRun(await readDeliveryLog(dataSource)).size, 0);

          const second = await start('b');
          const elapsed = await deliveredWithin(dataSource, [runId], 60_000);
          const log = completedPerRun(await readDeliveryLog(dataSource));
          assert.equal(log.get(runId)?.length, 1);
          assert.equal(log.get(runId)?.[0].instanceId, second.instanceId);
          assert.ok(elapsed <= LEASE_MS + 5000, `redelivered ${elapsed} ms after the restart`);
        });

        it('SIGKILL right after the callback got its 2xx, listeners still running: each run delivered once after restart', async () => {
          const { dataSource, start } = await world('after_ack');
          const first = await start('a', { listener: { delayMs: 10_000, trace: true } });
          const runIds = [1, 2, 3].map((n) => `arun_after_ack_${engine}_${n}`);
          const answers = await Promise.all(
            runIds.map((id) =>
              sandbox.deliverCallback(`${first.url}/zapier/callbacks`, { id, status: 'success' }),
            ),
          );
          assert.deepEqual(
            answers.map((attempts) => attempts.map((attempt) => attempt.status)),
            [[200], [200], [200]],
          );
          // Their listeners have started (they print as they start), and none can finish for 10 s.
          await eventually(
            'three listeners running',
            () => first.lines.filter((line) => line.delivering !== undefined).length === 3,
          );
          await first.crash();
          const states = await readDeliveryStates(dataSource);
          for (const id of runIds) assert.equal(states.get(id)?.deliveryState, 'pending');
          assert.equal(completedPerRun(await readDeliveryLog(dataSource)).size, 0);

          await start('b');
          const elapsed = await deliveredWithin(dataSource, runIds, 60_000);
          const log = completedPerRun(await readDeliveryLog(dataSource));
          for (const id of runIds) assert.equal(log.get(id)?.length, 1, id);
          assert.ok(elapsed <= LEASE_MS + 5000, `redelivered ${elapsed} ms after the restart`);
        });

        it('after a crash mid-delivery, the redelivery carries a higher attempt number', async () => {
          const { dataSource, start } = await world('attempt');
          const runId = `arun_attempt_${engine}`;
          const first = await start('a', { listener: { killOn: runId } });
          void sandbox.deliverCallback(`${first.url}/zapier/callbacks`, {
            id: runId,
            status: 'success',
          });
          const killed = await first.waitForLine((line) => line.killing === runId, 10_000);
          await first.exited;
          await start('b');
          await deliveredWithin(dataSource, [runId], 60_000);
          const [delivery] = completedPerRun(await readDeliveryLog(dataSource)).get(runId) ?? [];
          // ZapierRunEvent.attempt: "2 on the first redelivery ... after the process died
          // mid-delivery". Without it a listener cannot tell a redelivery, and a run whose listener
          // kills the process is never parked.
          assert.ok(
            delivery.attempt > Number(killed.attempt),
            `first delivery had attempt ${String(killed.attempt)}, the redelivery ${delivery.attempt}`,
          );
        });

        it(
          'SIGKILL while a poll is in flight: after restart the run is polled again and delivered once',
          { timeout: 60_000 },
          async () => {
            const { dataSource, start } = await world('poll');
            sandbox.queueOutcome({
              status: 'success',
              callback: 'never',
              results: [{ polled: 1 }],
            });
            const first = await start('a', { hangPolls: 'all' });
            const [created] = await first.createRuns([
              { ...RUN_INPUT, metadata: { test: 'poll' } },
            ]);
            assert.ok('id' in created, JSON.stringify(created));
            const runId = created.id;
            await first.waitForLine((line) => line.pollHanging === runId, 10_000);
            await first.crash();
            assert.equal(polls(sandbox, runId).length, 1);
            const row = await readRun(dataSource, runId);
            assert.equal(row?.status, 'pending');
            assert.equal(row?.pollClaimedBy, first.instanceId);

            await start('b');
            const elapsed = await deliveredWithin(dataSource, [runId], 30_000);
            const after = await readRun(dataSource, runId);
            assert.equal(after?.status, 'success');
            assert.equal(after?.source, 'poll');
            assert.deepEqual(after?.metadata, { test: 'poll' });
            assert.equal(polls(sandbox, runId).length, 2);
            const log = completedPerRun(await readDeliveryLog(dataSource));
            assert.equal(log.get(runId)?.length, 1);
            console.log(`  poll re-sent ${elapsed} ms after the restart (${engine})`);
          },
        );

        it('SIGTERM mid-delivery: running listeners finish, queued deliveries are released at once', async () => {
          const { dataSource, start } = await world('sigterm');
          const first = await start('a', {
            listener: { delayMs: 1500, trace: true },
            options: { delivery: { concurrency: 2, leaseMs: 20_000 } },
          });
          const runIds = [1, 2, 3, 4, 5, 6].map((n) => `arun_sigterm_${engine}_${n}`);
          await Promise.all(
            runIds.map((id) =>
              sandbox.deliverCallback(`${first.url}/zapier/callbacks`, { id, status: 'success' }),
            ),
          );
          await eventually(
            'two listeners running',
            () => first.lines.filter((line) => line.delivering !== undefined).length >= 2,
          );
          const { graceful } = await first.stop(15_000);
          assert.ok(graceful, `${first.instanceId} needed a SIGKILL:\n${first.stderrTail()}`);
          const finished = completedPerRun(await readDeliveryLog(dataSource));
          assert.equal(finished.size, 2, 'the two running deliveries completed before exit');
          const states = await readDeliveryStates(dataSource);
          for (const id of runIds) {
            const state = states.get(id);
            if (finished.has(id)) assert.equal(state?.deliveryState, 'delivered', id);
            else assert.deepEqual([state?.deliveryState, state?.claimedBy], ['pending', null], id);
          }

          await start('b', { options: { delivery: { leaseMs: 20_000 } } });
          // Released claims are taken at the first sweep, not after the 20 s lease.
          const elapsed = await deliveredWithin(dataSource, runIds, 10_000);
          const log = completedPerRun(await readDeliveryLog(dataSource));
          for (const id of runIds) assert.equal(log.get(id)?.length, 1, id);
          assert.ok(elapsed < 5000, `delivered ${elapsed} ms after the restart`);
        });
      });
    }
  },
);

/** Waits until every run is `delivered`; returns how long that took. */
async function deliveredWithin(
  dataSource: DataSource,
  runIds: readonly string[],
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  await eventually(
    `${runIds.length} run(s) delivered`,
    async () => {
      const states = await readDeliveryStates(dataSource);
      return runIds.every((id) => states.get(id)?.deliveryState === 'delivered');
    },
    timeoutMs,
  );
  return Date.now() - started;
}
