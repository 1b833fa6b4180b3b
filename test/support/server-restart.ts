import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ZapierClient } from '../../src/client/zapier.client.js';
import { ZapierSandbox } from '../../src/testing/index.js';
import { ZapierMessages } from '../../src/zapier.messages.js';
import { freshDatabase, type Engine } from './data-sources.js';
import { postCallback } from './callbacks.js';
import { eventually, PUBLIC_CALLBACK_URL } from './zapier-harness.js';
import { startZapierApp, type ZapierApp } from './zapier-app.js';

/** A database server a test stops and starts for real. */
export interface DatabaseServer {
  stop(): Promise<void>;
  start(): Promise<void>;
  isReady(): Promise<boolean>;
}

/**
 * The restart scenario, on the machine's own server of `engine` (`server`, or why it cannot be
 * driven from here): callbacks keep arriving while the server is stopped and started again; they
 * are answered 503 while it is down (Zapier retries them), the outage is logged once, and the app
 * resumes by itself, every run stored and delivered once, a run the poller finished included.
 * For `*.serial-e2e-spec.ts` files only, which run alone.
 */
export function describeServerRestart(
  name: string,
  engine: Engine,
  server: DatabaseServer | string,
  skip: string | false,
): void {
  void describe(
    `${name} restarting under load (the real server is stopped and started)`,
    { skip },
    () => {
      let sandbox: ZapierSandbox;
      let zapier: ZapierApp;
      let appUrl = '';
      const database = server as DatabaseServer;

      before(async () => {
        sandbox = await ZapierSandbox.start({
          rateLimit: false,
          callbackTarget: () => `${appUrl}/zapier/callbacks`,
        });
        const db = await freshDatabase(engine, `restart_${engine}`);
        zapier = await startZapierApp({
          adapter: 'express',
          database: db.options,
          zapier: {
            ...sandbox.moduleOptions(),
            callbackUrl: PUBLIC_CALLBACK_URL,
            polling: { intervalMs: 100, overdueAfterMs: 200, initialBackoffMs: 200 },
            // A commit whose answer the outage swallowed leaves its run claimed by this instance
            // (the callback got a 503, its retry is a duplicate) until the lease runs out.
            delivery: { sweepIntervalMs: 100, leaseMs: 2000 },
          },
        });
        appUrl = zapier.url;
      });
      after(async () => {
        // Whatever happened, leave the server running for everything else.
        if (!(await database.isReady())) await database.start();
        await zapier?.close();
        await sandbox?.stop();
      });

      void it('answers 503 while it is down, logs each outage once, and resumes without a restart of the app', async () => {
        // A run the poller has to finish: its callback never comes, and it completes while the
        // database is down.
        sandbox.queueOutcome({
          status: 'success',
          results: [{ polled: true }],
          callback: 'never',
          delayMs: 1500,
        });
        const { id: polledRun } = await zapier.app.get(ZapierClient).createActionRun({
          action: 'act',
          authentication: null,
          inputs: {},
          metadata: { polled: true },
        });

        const statuses = new Map<string, number[]>();
        /** When each callback was sent and answered: the outage is judged by the clock, not by count. */
        const times = new Map<string, { sentAt: number; answeredAt: number }>();
        let sending = true;
        let n = 0;
        const sender = (async () => {
          while (sending) {
            const id = `arun_restart_${n++}`;
            const request = await sandbox.signer.callbackRequest({ id, status: 'success' });
            const sentAt = Date.now();
            const answer = await postCallback(zapier.url, request).catch(() => ({ status: 0 }));
            statuses.set(id, [answer.status]);
            times.set(id, { sentAt, answeredAt: Date.now() });
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        })();

        await new Promise((resolve) => setTimeout(resolve, 800));
        await database.stop();
        const downAt = Date.now();
        await new Promise((resolve) => setTimeout(resolve, 2500));
        const upAt = Date.now();
        await database.start();
        // Sent once the server was stopped, answered before it was started again.
        const duringOutage = [...statuses.entries()]
          .filter(([id]) => {
            const time = times.get(id);
            return time !== undefined && time.sentAt > downAt && time.answeredAt < upAt;
          })
          .map(([, [status]]) => status);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        sending = false;
        await sender;

        assert.ok(
          duringOutage.length >= 20,
          `${duringOutage.length} callbacks sent while it was down`,
        );
        assert.deepEqual(
          new Set(duringOutage),
          new Set([503]),
          'only 503 while the database is down',
        );
        const answers = [...statuses.values()].map(([status]) => status);
        assert.ok(
          answers.every((status) => status === 200 || status === 503),
          `answers: ${[...new Set(answers)].join(', ')}`,
        );

        // Zapier retries what got a 5xx; every run then ends stored and delivered once.
        for (const [id, [status]] of statuses) {
          if (status === 200) continue;
          const request = await sandbox.signer.callbackRequest({ id, status: 'success' });
          await eventually(
            `a 200 for ${id}`,
            async () => (await postCallback(zapier.url, request)).status === 200,
            15_000,
          );
        }
        await eventually(
          'an event for every run',
          () => [...statuses.keys()].every((id) => zapier.listener.forRun(id).length > 0),
          20_000,
        );
        for (const id of statuses.keys())
          assert.equal(zapier.listener.forRun(id).length, 1, `events for ${id}`);

        await eventually(
          'the overdue run completed by the poller',
          () => zapier.listener.forRun(polledRun).length === 1,
          20_000,
        );
        assert.equal(zapier.listener.forRun(polledRun)[0].event.metadata?.polled, true);

        // The outage's cause is the driver's text, hence the patterns.
        const logged = (pattern: RegExp) => zapier.logger.find('error', pattern).length;
        assert.equal(
          logged(/Storing callbacks failed/),
          1,
          'the outage is logged once, not per callback',
        );
        assert.ok(logged(/Polling overdue runs failed/) <= 1);
        assert.ok(logged(/Recording event deliveries failed/) <= 1);
        assert.equal(
          zapier.logger.find('log', ZapierMessages.outageEnded('Storing callbacks')).length,
          1,
        );
      });
    },
  );
}
