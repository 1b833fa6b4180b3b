import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ZapierClient } from '../src/client/zapier.client.js';
import { CliMessages } from '../src/cli/cli.messages.js';
import type { SandboxDelivery } from '../src/testing/zapier-sandbox.interfaces.js';
import { CliProcess, described, freePort, jsonOf, runCli } from './support/cli.js';
import { freshDatabase } from './support/data-sources.js';
import { SAMPLE_RUN } from './support/sample-runs.js';
import { eventually, PUBLIC_CALLBACK_URL } from './support/zapier-harness.js';
import { startZapierApp, type ZapierApp } from './support/zapier-app.js';

interface Ready {
  apiBaseUrl: string;
  jwksUrl: string;
  accessToken: string;
  callbackTarget: string | null;
}

describe('nestjs-zapier sandbox and send-callback with a real app', () => {
  let sandbox: CliProcess;
  let ready: Ready;
  let zapier: ZapierApp;
  let cleanupDatabase: () => void = () => undefined;

  before(async () => {
    // The app's port is chosen first, so the sandbox can be told where callbacks go.
    const appPort = await freePort();
    sandbox = new CliProcess([
      'sandbox',
      '--port',
      '0',
      '--json',
      '--callback-target',
      `http://127.0.0.1:${appPort}/zapier/callbacks`,
      '--delay',
      '50ms',
      '--results',
      '[{"messageId": "m1"}]',
    ]);
    ready = (await sandbox.waitForEvent((event) => event.event === 'ready')) as unknown as Ready;
    const db = await freshDatabase('sqlite', 'ops_cli_sandbox');
    cleanupDatabase = db.cleanup;
    // What a developer puts in the app's options, as the sandbox printed it.
    zapier = await startZapierApp({
      adapter: 'express',
      database: db.options,
      port: appPort,
      zapier: {
        apiBaseUrl: ready.apiBaseUrl,
        jwksUrl: ready.jwksUrl,
        accessToken: ready.accessToken,
        callbackUrl: PUBLIC_CALLBACK_URL,
      },
    });
  });
  after(async () => {
    await zapier?.close();
    await sandbox?.stop();
    cleanupDatabase();
  });

  it('prints the options to give the app', () => {
    assert.match(ready.apiBaseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ready.jwksUrl, `${ready.apiBaseUrl}/.well-known/jwks.json`);
    assert.equal(ready.accessToken, 'sandbox-token');
    assert.equal(ready.callbackTarget, `${zapier.url}/zapier/callbacks`);
  });

  it("runs an action the app starts and calls the app back; the run's event fires once", async () => {
    const { id } = await zapier.app.get(ZapierClient).createActionRun(SAMPLE_RUN);
    const created = await sandbox.waitForEvent(
      (event) => event.event === 'request' && event.runId === id,
    );
    assert.deepEqual(created, {
      event: 'request',
      method: 'POST',
      path: '/v2/action-runs/',
      status: 200,
      runId: id,
    });
    const callback = await sandbox.waitForEvent(
      (event) => event.event === 'callback' && event.runId === id,
    );
    assert.equal(callback.status, 200);
    assert.equal(callback.attempt, 1);
    await zapier.listener.waitFor(1);
    const heard = zapier.listener.forRun(id);
    assert.equal(heard.length, 1);
    assert.equal(heard[0].name, 'zapier.run.completed');
    assert.deepEqual(heard[0].name === 'zapier.run.completed' ? heard[0].event.results : null, [
      { messageId: 'm1' },
    ]);
  });

  it('send-callback delivers a callback signed with the sandbox keys; the app stores it and fires once', async () => {
    const before = zapier.listener.events.length;
    const send = (...args: string[]) =>
      runCli([
        'send-callback',
        '--sandbox',
        ready.apiBaseUrl,
        '--url',
        `${zapier.url}/zapier/callbacks`,
        '--json',
        ...args,
      ]);
    const sent = await send(
      '--run',
      'arun_cli_sent',
      '--status',
      'success',
      '--results',
      '[{"n": 1}]',
    );
    assert.equal(sent.code, 0, described(sent));
    const { accepted, deliveries } = jsonOf<{ accepted: boolean; deliveries: SandboxDelivery[] }>(
      sent,
    );
    assert.equal(accepted, true);
    assert.deepEqual(
      deliveries.map((delivery) => [delivery.attempt, delivery.status]),
      [[1, 200]],
    );
    await eventually('the event', () => zapier.listener.forRun('arun_cli_sent').length === 1);
    const [heard] = zapier.listener.forRun('arun_cli_sent');
    assert.equal(heard.name, 'zapier.run.completed');
    assert.deepEqual(heard.name === 'zapier.run.completed' && heard.event.results, [{ n: 1 }]);

    const failed = await send('--run', 'arun_cli_failed', '--status', 'error');
    assert.equal(failed.code, 0, described(failed));
    await eventually('the event', () => zapier.listener.forRun('arun_cli_failed').length === 1);
    assert.equal(zapier.listener.forRun('arun_cli_failed')[0].name, 'zapier.run.failed');

    // The same callback again: the app answers 200 (a duplicate) and fires nothing.
    const again = await send('--run', 'arun_cli_sent', '--status', 'success');
    assert.equal(again.code, 0, described(again));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(zapier.listener.events.length, before + 2);
  });

  it('send-callback exits 1 when the app never accepts it, or no sandbox answers', async () => {
    const closed = await freePort();
    const [refused, noSandbox, wrongToken, badResults] = await Promise.all([
      runCli([
        'send-callback',
        ...['--sandbox', ready.apiBaseUrl, '--run', 'arun_x', '--status', 'success'],
        ...['--url', `http://127.0.0.1:${closed}/zapier/callbacks`, '--json'],
      ]),
      runCli([
        'send-callback',
        ...['--sandbox', `http://127.0.0.1:${closed}`, '--run', 'arun_x', '--status', 'success'],
        ...['--url', `${zapier.url}/zapier/callbacks`],
      ]),
      runCli([
        'send-callback',
        ...['--sandbox', ready.apiBaseUrl, '--token', 'wrong', '--run', 'arun_x'],
        ...['--status', 'success', '--url', `${zapier.url}/zapier/callbacks`],
      ]),
      runCli([
        'send-callback',
        ...['--run', 'arun_x', '--status', 'success', '--url', 'http://127.0.0.1:1/'],
        ...['--results', '[{'],
      ]),
    ]);
    assert.equal(refused.code, 1, described(refused));
    const answer = jsonOf<{ accepted: boolean; deliveries: SandboxDelivery[] }>(refused);
    assert.equal(answer.accepted, false);
    assert.equal(answer.deliveries.length, 3, "Zapier's 3 attempts");
    assert.ok(answer.deliveries.every((delivery) => delivery.error !== undefined));
    assert.equal(noSandbox.code, 1, described(noSandbox));
    assert.match(
      noSandbox.stderr,
      /^No sandbox answered at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
    assert.equal(wrongToken.code, 1, described(wrongToken));
    assert.match(wrongToken.stderr, /answered 401/);
    assert.equal(badResults.code, 2, described(badResults));
    const badUrl = await runCli(['send-callback', '--run', 'a', '--status', 'error', '--url', 'x']);
    assert.equal(badUrl.code, 2, described(badUrl));
    assert.ok(badUrl.stderr.includes(CliMessages.notAnHttpUrl('x')), badUrl.stderr);
    assert.equal(zapier.listener.forRun('arun_x').length, 0);
  });

  it('prints the options for people without --json, and stops on Ctrl-C with exit 0', async () => {
    const human = new CliProcess(['sandbox', '--port', '0']);
    await eventually('the options', () =>
      human.lines.some((line) => /^ {2}jwksUrl: +http/.test(line)),
    );
    assert.ok(
      human.lines.some((line) => /^ {2}apiBaseUrl: +http:\/\/127\.0\.0\.1:\d+$/.test(line)),
    );
    assert.ok(human.lines.some((line) => line === '  accessToken: sandbox-token'));
    assert.ok(human.lines.some((line) => line === "Callbacks go to: each run's own callback_url"));
    assert.equal(await human.stop('SIGINT'), 0);
    assert.match(human.lines.at(-1) ?? '', /stopped$/);
    // A second sandbox on a taken port says so.
    const port = Number(new URL(ready.apiBaseUrl).port);
    const taken = await runCli(['sandbox', '--port', String(port)]);
    assert.equal(taken.code, 1, described(taken));
    assert.equal(taken.stderr.trim(), CliMessages.portInUse(port));
  });
});
