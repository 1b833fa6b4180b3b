import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ZapierSandbox } from '../src/testing/index.js';
import { ZapierDeliveryRunner } from '../src/delivery/zapier-delivery.runner.js';
import { freshDatabase, type Engine } from './support/data-sources.js';
import { postgresSkipReason } from './support/postgres.js';
import { postCallback, rows, sendCallback, signedRaw } from './support/callbacks.js';
import { eventually } from './support/zapier-harness.js';
import { startZapierApp, type Adapter, type ZapierApp } from './support/zapier-app.js';

const pgSkip = await postgresSkipReason();
const MiB = 1024 * 1024;

interface Case {
  adapter: Adapter;
  engine: Engine;
  async: boolean;
}
const cases: Case[] = [];
for (const adapter of ['express', 'fastify'] as Adapter[]) {
  for (const engine of ['sqlite', 'postgres'] as Engine[]) {
    cases.push({ adapter, engine, async: adapter === 'fastify' });
  }
}

for (const { adapter, engine, async } of cases) {
  const title = `callbacks on ${adapter} + ${engine} (${async ? 'forRootAsync' : 'forRoot'})`;
  describe(title, { skip: engine === 'postgres' && pgSkip }, () => {
    let sandbox: ZapierSandbox;
    let zapier: ZapierApp;
    let cleanup: () => void;
    let seq = 0;
    const runId = () => `arun_${adapter}_${engine}_${++seq}`;

    before(async () => {
      sandbox = await ZapierSandbox.start({ rateLimit: false });
      const db = await freshDatabase(engine, `callback_${adapter}_${engine}`);
      cleanup = db.cleanup;
      zapier = await startZapierApp({
        adapter,
        async,
        database: db.options,
        zapier: { jwksUrl: sandbox.jwksUrl, callbackBodyLimit: 12 * MiB },
      });
    });
    after(async () => {
      await zapier?.close();
      await sandbox?.stop();
      cleanup?.();
    });
    beforeEach(() => {
      zapier.listener.events.length = 0;
    });

    it('stores a signed success callback and fires one completed event', async () => {
      const id = runId();
      const request = await sandbox.signer.callbackRequest({
        id,
        status: 'success',
        results: [{ email: 'a@example.com' }],
      });
      const answer = await postCallback(zapier.url, request);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, { runId: id, duplicate: false });
      await zapier.listener.waitFor(1);
      const [heard] = zapier.listener.events;
      assert.equal(heard.name, 'zapier.run.completed');
      assert.equal(heard.event.runId, id);
      assert.deepEqual((heard.event as { results: unknown }).results, [{ email: 'a@example.com' }]);
      assert.equal((heard.event as { source: string }).source, 'callback');
      assert.equal(heard.event.metadata, null);
      assert.equal(heard.event.attempt, 1);
      assert.ok((heard.event as { receivedAt: Date }).receivedAt instanceof Date);
      const [row] = (await rows(zapier.dataSource, 'zapier_action_runs')).filter(
        (r) => r.run_id === id,
      );
      assert.equal(row.status, 'success');
      assert.equal(row.source, 'callback');
      assert.equal(row.raw_payload, request.body);
      assert.deepEqual(JSON.parse(String(row.results)), [{ email: 'a@example.com' }]);
      assert.ok(Number(row.received_at) > 0 && Number(row.completed_at) >= Number(row.received_at));
      await eventually('the condition', async () => {
        const [r] = (await rows(zapier.dataSource, 'zapier_action_runs')).filter(
          (x) => x.run_id === id,
        );
        return r.delivery_state === 'delivered';
      });
    });

    it('answers a repeated callback 2xx and changes nothing', async () => {
      const id = runId();
      const first = await sendCallback(zapier.url, sandbox.signer, { id, status: 'success' });
      assert.equal(first.status, 200);
      await zapier.listener.waitFor(1);
      const before = (await rows(zapier.dataSource, 'zapier_action_runs')).find(
        (r) => r.run_id === id,
      );
      const again = await sendCallback(zapier.url, sandbox.signer, {
        id,
        status: 'error',
        errors: [{ code: 'user', title: 'x', detail: 'y' }],
      });
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { runId: id, duplicate: true });
      await app(zapier).whenIdle();
      const after = (await rows(zapier.dataSource, 'zapier_action_runs')).find(
        (r) => r.run_id === id,
      );
      assert.equal(after?.status, 'success');
      assert.equal(after?.raw_payload, before?.raw_payload);
      assert.equal(zapier.listener.forRun(id).length, 1);
      await eventually(
        'the condition',
        () => zapier.logger.find('warn', new RegExp(`${id} is already success`)).length === 1,
      );
    });

    it('answers 20 identical concurrent callbacks 2xx with one row and one event', async () => {
      const id = runId();
      const request = await sandbox.signer.callbackRequest({ id, status: 'success' });
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => postCallback(zapier.url, request)),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(20).fill(200),
      );
      assert.equal(answers.filter((a) => a.body?.duplicate === false).length, 1);
      await app(zapier).whenIdle();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(zapier.listener.forRun(id).length, 1);
      const stored = (await rows(zapier.dataSource, 'zapier_action_runs')).filter(
        (r) => r.run_id === id,
      );
      assert.equal(stored.length, 1);
    });

    it('fires one failed event with the errors, delay and meta kept', async () => {
      const id = runId();
      const errors = [
        {
          code: 'throttled',
          title: 'Slow down',
          detail: 'Partner throttled',
          delay: 30,
          meta: { partner: 'x' },
        },
        { code: 'authentication_error', title: 'Auth', detail: 'Expired' },
      ];
      const answer = await sendCallback(zapier.url, sandbox.signer, {
        id,
        status: 'error',
        errors,
      });
      assert.equal(answer.status, 200);
      await zapier.listener.waitFor(1);
      const [heard] = zapier.listener.events;
      assert.equal(heard.name, 'zapier.run.failed');
      assert.deepEqual((heard.event as { errors: unknown }).errors, errors);
      const [row] = (await rows(zapier.dataSource, 'zapier_action_runs')).filter(
        (r) => r.run_id === id,
      );
      assert.equal(row.status, 'error');
      assert.deepEqual(JSON.parse(String(row.errors)), errors);
    });

    it('accepts the guide shape: run_id and an object result, plus unknown fields', async () => {
      const id = runId();
      const body = JSON.stringify({
        data: {
          type: 'run',
          run_id: id,
          status: 'success',
          results: { rowId: 7 },
          errors: [],
          extra: 1,
        },
        links: {},
      });
      const answer = await postCallback(zapier.url, await signedRaw(sandbox.signer, body));
      assert.equal(answer.status, 200);
      await zapier.listener.waitFor(1);
      assert.deepEqual((zapier.listener.events[0].event as { results: unknown }).results, [
        { rowId: 7 },
      ]);
      const [row] = (await rows(zapier.dataSource, 'zapier_action_runs')).filter(
        (r) => r.run_id === id,
      );
      assert.equal(row.raw_payload, body);
    });

    it('accepts a 10 MB callback and refuses one over the configured limit with 413', async () => {
      const id = runId();
      const big = 'x'.repeat(10 * MiB);
      const request = await sandbox.signer.callbackRequest({
        id,
        status: 'success',
        results: [{ big }],
      });
      const answer = await postCallback(zapier.url, request);
      assert.equal(answer.status, 200);
      await zapier.listener.waitFor(1);
      const [row] = await zapier.dataSource.query<Array<{ n: number | string }>>(
        `SELECT LENGTH(raw_payload) AS n FROM zapier_action_runs WHERE run_id = '${id}'`,
      );
      assert.equal(Number(row.n), request.body.length);

      const tooBig = await sandbox.signer.callbackRequest({
        id: runId(),
        status: 'success',
        results: [{ big: 'y'.repeat(13 * MiB) }],
      });
      assert.equal((await postCallback(zapier.url, tooBig)).status, 413);
      await eventually(
        'the 413 to be logged',
        () => zapier.logger.find('warn', /Refused a callback/).length > 0,
      );
    });

    for (const [name, body, contentType] of [
      ['malformed JSON', '{"data": {"id": "arun_broken", "status": "succ', 'application/json'],
      [
        'no run id',
        JSON.stringify({ data: { type: 'run', status: 'success', results: [] } }),
        'application/json',
      ],
      [
        'a status that is not terminal',
        JSON.stringify({ data: { type: 'run', id: 'arun_running', status: 'running' } }),
        'application/json',
      ],
      ['a JSON array', '[1,2,3]', 'application/json'],
      [
        'errors that are not objects',
        JSON.stringify({ data: { id: 'arun_e', status: 'error', errors: ['x'] } }),
        'application/json',
      ],
      [
        'text/plain',
        JSON.stringify({ data: { id: 'arun_text', status: 'success' } }),
        'text/plain',
      ],
    ] as const) {
      it(`answers a signed callback with ${name} 4xx, quarantines it, stores and emits nothing`, async () => {
        const runsBefore = (await rows(zapier.dataSource, 'zapier_action_runs')).length;
        const quarantinedBefore = (await rows(zapier.dataSource, 'zapier_callback_quarantine'))
          .length;
        const answer = await postCallback(
          zapier.url,
          await signedRaw(sandbox.signer, body, contentType),
        );
        assert.ok(answer.status >= 400 && answer.status < 500, `status ${answer.status}`);
        assert.match(String(answer.body?.message), /./);
        await eventually(
          'the quarantine row',
          async () =>
            (await rows(zapier.dataSource, 'zapier_callback_quarantine')).length ===
            quarantinedBefore + 1,
          5000,
        );
        const quarantined = (await rows(zapier.dataSource, 'zapier_callback_quarantine')).at(-1);
        assert.equal(quarantined?.raw_body, body);
        assert.match(String(quarantined?.reason), /./);
        assert.equal((await rows(zapier.dataSource, 'zapier_action_runs')).length, runsBefore);
        await new Promise((resolve) => setTimeout(resolve, 30));
        assert.equal(zapier.listener.events.length, 0);
      });

      it(`answers an unsigned callback with ${name} 4xx and keeps nothing`, async () => {
        const quarantinedBefore = (await rows(zapier.dataSource, 'zapier_callback_quarantine'))
          .length;
        const answer = await postCallback(zapier.url, {
          headers: { 'content-type': contentType },
          body,
        });
        assert.ok(answer.status >= 400 && answer.status < 500, `status ${answer.status}`);
        assert.equal(
          (await rows(zapier.dataSource, 'zapier_callback_quarantine')).length,
          quarantinedBefore,
        );
      });
    }
  });
}

function app(zapier: ZapierApp): ZapierDeliveryRunner {
  return zapier.app.get(ZapierDeliveryRunner);
}
