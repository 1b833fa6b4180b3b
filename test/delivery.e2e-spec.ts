import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { ZapierSandbox } from '../src/testing/index.js';
import { ZapierDeliveryRunner } from '../src/delivery/zapier-delivery.runner.js';
import { ZapierRunsService } from '../src/runs/zapier-runs.service.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { engineSkipReasons, freshDatabase, type Engine } from './support/data-sources.js';
import { cutPostgresDatabase } from './support/postgres-outage.js';
import { postCallback, rows, sendCallback } from './support/callbacks.js';
import { eventually } from './support/zapier-harness.js';
import { startZapierApp, type ZapierApp } from './support/zapier-app.js';
import { AppFleet } from './support/app-fleet.js';

const skips = await engineSkipReasons();

/** The runs table read through a new connection (the app's own is closed). */
async function readRuns(zapier: ZapierApp): Promise<Map<string, Record<string, unknown>>> {
  const { DataSource } = await import('typeorm');
  const reader = new DataSource({
    ...zapier.dataSource.options,
    entities: [],
    migrations: [],
    migrationsRun: false,
    synchronize: false,
  });
  await reader.initialize();
  try {
    const all = await reader.query<Array<Record<string, unknown>>>(
      'SELECT * FROM zapier_action_runs',
    );
    return new Map(all.map((row) => [String(row.run_id), row]));
  } finally {
    await reader.destroy();
  }
}

async function deliveryState(
  zapier: ZapierApp,
  runId: string,
): Promise<Record<string, unknown> | undefined> {
  return (await rows(zapier.dataSource, 'zapier_action_runs')).find((row) => row.run_id === runId);
}

for (const engine of ['sqlite', 'postgres', 'mariadb'] as Engine[]) {
  describe(`delivery to listeners on ${engine}`, { skip: skips[engine] }, () => {
    let sandbox: ZapierSandbox;
    const fleet = new AppFleet(engine, `delivery_${engine}`, () => sandbox);
    const apps = fleet.apps;
    const start = fleet.start.bind(fleet);

    before(async () => {
      sandbox = await ZapierSandbox.start({ rateLimit: false });
    });
    afterEach(async () => {
      await fleet.closeAll();
    });
    after(() => sandbox.stop());

    it('answers 200 concurrent callbacks while none of their listeners has returned', async () => {
      const zapier = await start('slow');
      const release = zapier.listener.hold();
      const requests = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          sandbox.signer.callbackRequest({ id: `arun_slow_${i}`, status: 'success' }),
        ),
      );
      const answers = await Promise.all(
        requests.map((request) => postCallback(zapier.url, request)),
      );
      assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
      assert.equal(zapier.listener.events.length, 0, 'every listener is still waiting');
      const [row] = await zapier.dataSource.query<Array<{ n: number | string }>>(
        `SELECT COUNT(*) AS n FROM zapier_action_runs WHERE run_id LIKE 'arun_slow_%' AND status = 'success'`,
      );
      assert.equal(Number(row.n), 200, 'every 2xx is a committed row');
      release();
      await zapier.listener.waitFor(200);
    });

    it('retries a failed delivery within a minute with default settings, and counts it delivered only after success', async () => {
      const zapier = await start('retry');
      zapier.listener.failures = 1;
      assert.equal(
        (await sendCallback(zapier.url, sandbox.signer, { id: 'arun_retry', status: 'success' }))
          .status,
        200,
      );
      await eventually(
        'a failed attempt',
        async () =>
          typeof (await deliveryState(zapier, 'arun_retry'))?.delivery_last_error === 'string',
        5000,
      );
      const failed = await deliveryState(zapier, 'arun_retry');
      assert.equal(failed?.delivery_state, 'pending');
      assert.match(String(failed?.delivery_last_error), /listener failure 1/);
      const started = Date.now();
      await zapier.listener.waitFor(1, 60_000);
      assert.ok(Date.now() - started < 60_000);
      const [heard] = zapier.listener.events;
      assert.equal(heard.event.attempt, 2);
      await eventually(
        'the condition',
        async () => (await deliveryState(zapier, 'arun_retry'))?.delivery_state === 'delivered',
      );
      // The delay is jittered: read it from the warning, and compare the rest.
      const [warning] = zapier.logger.find('warn', /^Run arun_retry: a listener failed/);
      const seconds = Number(/retrying in (\d+) s\.$/.exec(warning?.message ?? '')?.[1]);
      assert.equal(
        warning?.message,
        ZapierMessages.deliveryRetrying(
          'arun_retry',
          1,
          'Error: listener failure 1 for arun_retry',
          seconds,
        ),
      );
    });

    it('parks a run after maxAttempts, lists it, and re-drives it on request', async () => {
      const zapier = await start('park', {
        zapier: { delivery: { maxAttempts: 3, retryBaseDelayMs: 20, sweepIntervalMs: 50 } },
      });
      zapier.listener.failures = 3;
      assert.equal(
        (
          await sendCallback(zapier.url, sandbox.signer, {
            id: 'arun_park',
            status: 'error',
            errors: [{ code: 'user', title: 't', detail: 'd' }],
          })
        ).status,
        200,
      );
      await eventually(
        'parking',
        async () => (await deliveryState(zapier, 'arun_park'))?.delivery_state === 'parked',
        10_000,
      );
      const runs = zapier.app.get(ZapierRunsService);
      assert.deepEqual(
        (await runs.findUndeliverable()).map((run) => [run.runId, run.deliveryAttempts]),
        [['arun_park', 3]],
      );
      assert.equal(
        zapier.logger.find(
          'error',
          ZapierMessages.deliveryParked('arun_park', 3, 'Error: listener failure 3 for arun_park'),
        ).length,
        1,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(zapier.listener.events.length, 0, 'a parked run is not retried on its own');
      assert.equal(await runs.redeliver('arun_park'), true);
      await zapier.listener.waitFor(1);
      assert.equal(zapier.listener.events[0].event.attempt, 1);
      await eventually(
        'the condition',
        async () => (await deliveryState(zapier, 'arun_park'))?.delivery_state === 'delivered',
      );
      assert.deepEqual(await runs.findUndeliverable(), []);
      assert.equal(await runs.redeliver('unknown'), false);
    });

    it('finishes a running delivery and releases queued ones on app.close()', async () => {
      const zapier = await start('shutdown', {
        zapier: { delivery: { concurrency: 1, leaseMs: 10_000 } },
      });
      zapier.listener.delayMs = 300;
      for (const id of ['arun_s1', 'arun_s2', 'arun_s3']) {
        assert.equal(
          (await sendCallback(zapier.url, sandbox.signer, { id, status: 'success' })).status,
          200,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      await zapier.close();
      apps.splice(apps.indexOf(zapier), 1);
      assert.deepEqual(
        zapier.listener.events.map((e) => e.event.runId),
        ['arun_s1'],
        'the running delivery finished before the app closed',
      );
      const states = await readRuns(zapier);
      assert.equal(states.get('arun_s1')?.delivery_state, 'delivered');
      for (const id of ['arun_s2', 'arun_s3']) {
        assert.equal(states.get(id)?.delivery_state, 'pending');
        assert.equal(states.get(id)?.delivery_claimed_by, null, 'released for another instance');
      }
    });

    it('warns at boot about listeners whose failures it cannot see', async () => {
      const zapier = await start('warnings', { providers: [OpaqueListeners] });
      assert.equal(
        zapier.logger.find(
          'warn',
          ZapierMessages.suppressedListener('OpaqueListeners.swallowing()', 'zapier.run.completed'),
        ).length,
        1,
      );
      assert.equal(
        zapier.logger.find(
          'warn',
          ZapierMessages.asyncListener('OpaqueListeners.detached()', 'zapier.run.failed'),
        ).length,
        1,
      );
    });
  });
}

@Injectable()
class OpaqueListeners {
  @OnEvent('zapier.run.completed', { suppressErrors: true })
  swallowing(): void {}

  @OnEvent('zapier.run.failed', { async: true })
  detached(): void {}
}

for (const engine of ['postgres', 'mariadb'] as Engine[]) {
  describe(`delivery across two instances on ${engine}`, { skip: skips[engine] }, () => {
    let sandbox: ZapierSandbox;
    let first: ZapierApp;
    let second: ZapierApp;
    before(async () => {
      sandbox = await ZapierSandbox.start({ rateLimit: false });
      const db = await freshDatabase(engine, `delivery_cluster_${engine}`);
      const options = {
        adapter: 'express' as const,
        database: db.options,
        zapier: {
          jwksUrl: sandbox.jwksUrl,
          delivery: { leaseMs: 600, sweepIntervalMs: 100, retryBaseDelayMs: 50 },
        },
      };
      first = await startZapierApp({
        ...options,
        zapier: { ...options.zapier, instanceId: 'first' },
      });
      second = await startZapierApp({
        ...options,
        zapier: { ...options.zapier, instanceId: 'second' },
      });
    });
    after(async () => {
      await first?.close();
      await second?.close();
      await sandbox?.stop();
    });

    it('does not redeliver elsewhere a slow listener that outlives its lease', async () => {
      first.listener.delayMs = 2000;
      assert.equal(
        (await sendCallback(first.url, sandbox.signer, { id: 'arun_lease', status: 'success' }))
          .status,
        200,
      );
      await first.listener.waitFor(1, 5000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(second.listener.events.length, 0);
      const [row] = (await rows(first.dataSource, 'zapier_action_runs')).filter(
        (r) => r.run_id === 'arun_lease',
      );
      assert.equal(row.delivery_state, 'delivered');
    });

    it('delivers each run exactly once when duplicates hit both instances at once', async () => {
      first.listener.delayMs = 0;
      const requests = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          sandbox.signer.callbackRequest({ id: `arun_dup_${i}`, status: 'success' }),
        ),
      );
      const answers = await Promise.all(
        requests.flatMap((request) => [
          postCallback(first.url, request),
          postCallback(second.url, request),
        ]),
      );
      assert.ok(answers.every((answer) => answer.status === 200));
      await eventually(
        'the condition',
        () => first.listener.events.length + second.listener.events.length >= 51,
        10_000,
      );
      await first.app.get(ZapierDeliveryRunner).whenIdle();
      await second.app.get(ZapierDeliveryRunner).whenIdle();
      const heard = [...first.listener.events, ...second.listener.events].map((e) => e.event.runId);
      for (let i = 0; i < 50; i++)
        assert.equal(heard.filter((id) => id === `arun_dup_${i}`).length, 1);
    });

    // PostgreSQL only: no one database of a MariaDB server can be closed to new connections, as
    // PostgreSQL's can; test/mariadb-restart.serial-e2e-spec.ts stops the whole server instead.
    if (engine !== 'postgres') return;
    it('answers 5xx while PostgreSQL is away, logs the outage once, and resumes by itself', async () => {
      const database = (first.dataSource.options as { url: string }).url;
      const request = await sandbox.signer.callbackRequest({
        id: 'arun_outage',
        status: 'success',
      });
      const outage = await cutPostgresDatabase(database);
      const statuses: number[] = [];
      try {
        for (let i = 0; i < 5; i++) {
          statuses.push((await postCallback(first.url, request)).status);
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
      } finally {
        await outage.restore();
      }
      assert.ok(
        statuses.every((status) => status === 503),
        statuses.join(','),
      );
      // Nest's Logger is process-wide: both in-process apps log through the last one's logger.
      // The outage's cause is the PostgreSQL driver's text, hence the patterns.
      const find = (level: 'error' | 'log', pattern: RegExp | string) => [
        ...first.logger.find(level, pattern),
        ...second.logger.find(level, pattern),
      ];
      assert.equal(find('error', /Storing callbacks failed/).length, 1);
      // The delivery sweeps of both instances ran during the outage: once per instance at most.
      assert.ok(find('error', /Recording event deliveries failed/).length <= 2);
      await eventually(
        'recovery',
        async () => (await postCallback(first.url, request)).status === 200,
        15_000,
      );
      await eventually('the condition', () =>
        [...first.listener.events, ...second.listener.events].some(
          (e) => e.event.runId === 'arun_outage',
        ),
      );
      assert.equal(find('log', ZapierMessages.outageEnded('Storing callbacks')).length, 1);
    });
  });
}
