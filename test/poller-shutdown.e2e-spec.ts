import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { DataSourceOptions } from 'typeorm';
import type { ZapierModuleOptions } from '../src/interfaces/zapier-module-options.interface.js';
import type { RunCompletedEvent } from '../src/events/run-completed.event.js';
import { engineSkipReasons, freshDatabase, type Engine } from './support/data-sources.js';
import { startDelayingProxy } from './support/delaying-proxy.js';
import {
  eventually,
  openDataSource,
  polls,
  readRun,
  sleep,
  startPollerApp,
  startSandbox,
  type PollerApp,
} from './support/zapier-harness.js';
import { SAMPLE_RUN } from './support/sample-runs.js';
import type { ZapierSandbox } from '../src/testing/zapier-sandbox.js';

const skips = await engineSkipReasons();

for (const engine of ['sqlite', 'postgres', 'mariadb'] as Engine[]) {
  describe(`poller shutdown (${engine})`, { skip: skips[engine] }, () => {
    let seq = 0;
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setup(
      zapierOptions: (sandbox: ZapierSandbox) => ZapierModuleOptions | Promise<ZapierModuleOptions>,
    ) {
      const { sandbox, target } = await startSandbox();
      cleanups.push(() => sandbox.stop());
      const db = await freshDatabase(engine, `h2_shutdown_${engine}_${++seq}`);
      cleanups.push(db.cleanup);
      const start = async (zapier: ZapierModuleOptions): Promise<PollerApp> => {
        const app = await startPollerApp({ sandbox, database: db.options, zapier });
        let closed: Promise<void> | undefined;
        const close = () => (closed ??= app.close());
        cleanups.push(close);
        target.url = app.url;
        return { ...app, close };
      };
      const zapier = await start(await zapierOptions(sandbox));
      return { sandbox, zapier, database: db.options, start };
    }

    /** The run as stored, read through a data source of its own (the app's is closed). */
    async function storedRun(database: DataSourceOptions, runId: string) {
      const dataSource = await openDataSource(database);
      try {
        return await readRun(dataSource, runId);
      } finally {
        await dataSource.destroy();
      }
    }

    it('closes at once while the poller waits for a budget slot, leaving the run pending and unclaimed', async () => {
      const { sandbox, zapier, database } = await setup(() => ({
        // One request a minute: the create takes the only slot, the poll would wait ~60 s.
        polling: { intervalMs: 20, overdueAfterMs: 100, maxRequestsPerMinute: 1 },
      }));
      sandbox.queueOutcome({ status: 'success', callback: 'never' });
      const { id } = await zapier.client.createActionRun(SAMPLE_RUN);
      await eventually(
        'the poller to claim the run',
        async () => (await readRun(zapier.dataSource, id))?.pollClaimedBy !== null,
      );
      await sleep(100);
      const started = Date.now();
      await zapier.close();
      const took = Date.now() - started;
      assert.ok(took < 1000, `close took ${took} ms`);

      const row = await storedRun(database, id);
      assert.equal(row?.status, 'pending');
      assert.equal(row?.pollClaimedBy, null, 'claim released');
      assert.equal(row?.pollAttempts, 0);
      assert.equal(row?.pollLastError, null);
      assert.equal(polls(sandbox).length, 0);
      assert.equal(zapier.listener.events.length, 0);
      await sleep(200);
      assert.equal(sandbox.requests.length, 1, 'nothing sent after close');
    });

    it('closes at once while a poll is in flight, leaving the run pending for the next start', async () => {
      let slow: Awaited<ReturnType<typeof startDelayingProxy>> | undefined;
      // Zapier takes 3 s to answer a poll (requests go through a proxy that holds GETs back).
      const { sandbox, zapier, database, start } = await setup(async (sandbox) => {
        slow = await startDelayingProxy(sandbox.url, (method) => (method === 'GET' ? 3000 : 0));
        cleanups.push(() => slow?.close());
        return {
          apiBaseUrl: slow.url,
          requestTimeoutMs: 10_000,
          polling: { intervalMs: 20, overdueAfterMs: 100 },
        };
      });
      sandbox.queueOutcome({ status: 'success', callback: 'never' });
      const { id } = await zapier.client.createActionRun({ ...SAMPLE_RUN, metadata: { n: 1 } });
      await eventually('the poll to be in flight', () => polls(sandbox, id).length === 1);
      const started = Date.now();
      await zapier.close();
      const took = Date.now() - started;
      assert.ok(took < 1000, `close took ${took} ms`);
      const poll = slow?.seen.find((request) => request.method === 'GET');
      await eventually('the proxy to see the hang-up', () => poll?.abandoned === true, 3000);

      const row = await storedRun(database, id);
      assert.equal(row?.status, 'pending');
      assert.equal(row?.pollClaimedBy, null, 'claim released');
      assert.equal(row?.pollAttempts, 0, 'an abandoned poll is not an attempt');
      assert.equal(row?.pollLastError, null);
      assert.equal(zapier.listener.events.length, 0);

      // The next start polls it again and completes it, once.
      const next = await start({ polling: { intervalMs: 20, overdueAfterMs: 100 } });
      await next.listener.waitFor(1);
      await sleep(200);
      assert.equal(next.listener.events.length, 1);
      const [heard] = next.listener.events;
      assert.equal(heard.event.runId, id);
      assert.equal((heard.event as RunCompletedEvent).source, 'poll');
      assert.deepEqual(heard.event.metadata, { n: 1 });
      assert.equal(polls(sandbox, id).length, 2);
    });
  });
}
