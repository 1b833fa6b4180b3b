import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ZapierClient } from '../src/client/zapier.client.js';
import { ZapierSandbox } from '../src/testing/index.js';
import { freshDatabase } from './support/data-sources.js';
import { sendCallback } from './support/callbacks.js';
import { startDelayingProxy } from './support/delaying-proxy.js';
import { SAMPLE_ERRORS } from './support/sample-runs.js';
import { PUBLIC_CALLBACK_URL } from './support/zapier-harness.js';
import { startZapierApp, type ZapierApp } from './support/zapier-app.js';

const CREATE_DELAY_MS = 1500;

describe('callbacks for runs this app did not start', () => {
  let sandbox: ZapierSandbox;
  let proxy: Awaited<ReturnType<typeof startDelayingProxy>>;
  let zapier: ZapierApp;
  let cleanup: () => void;

  before(async () => {
    sandbox = await ZapierSandbox.start({
      rateLimit: false,
      outcome: () => ({ status: 'success', callback: 'never' }),
    });
    // Zapier answers creates slowly here, so a create is in flight for a while.
    proxy = await startDelayingProxy(sandbox.url, (method) =>
      method === 'POST' ? CREATE_DELAY_MS : 0,
    );
    const db = await freshDatabase('sqlite', 'unknown_runs');
    cleanup = db.cleanup;
    zapier = await startZapierApp({
      adapter: 'express',
      database: db.options,
      zapier: {
        ...sandbox.moduleOptions(),
        apiBaseUrl: proxy.url,
        callbackUrl: PUBLIC_CALLBACK_URL,
        delivery: { sweepIntervalMs: 60_000 },
      },
    });
  });
  after(async () => {
    await zapier?.close();
    await proxy?.close();
    await sandbox?.stop();
    cleanup?.();
  });

  it('are held back while a create waits for its answer, and released when it has it', async () => {
    const creating = zapier.app.get(ZapierClient).createActionRun({
      action: 'act',
      authentication: null,
      inputs: {},
      metadata: { orderId: 1 },
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answer = await sendCallback(zapier.url, sandbox.signer, {
      id: 'arun_elsewhere',
      status: 'success',
    });
    assert.equal(answer.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(
      zapier.listener.forRun('arun_elsewhere').length,
      0,
      'held while the create is in flight',
    );
    await creating;
    const released = Date.now();
    await zapier.listener.waitFor(1, 2000);
    assert.ok(
      Date.now() - released < 1000,
      'released as soon as the create finished, not by the sweep',
    );
    const [heard] = zapier.listener.forRun('arun_elsewhere');
    assert.equal(heard.event.metadata, null);
  });

  it('are delivered at once when no create is in flight', async () => {
    const sent = Date.now();
    assert.equal(
      (
        await sendCallback(zapier.url, sandbox.signer, {
          id: 'arun_other',
          status: 'error',
          errors: SAMPLE_ERRORS,
        })
      ).status,
      200,
    );
    await zapier.listener.waitFor(2, 2000);
    assert.ok(Date.now() - sent < 1000);
    assert.equal(zapier.listener.forRun('arun_other')[0].name, 'zapier.run.failed');
  });
});
