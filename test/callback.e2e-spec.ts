import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  ZapierInvalidCallbackException,
  ZapierRunsService,
  ZapierSignatureException,
} from '../src/index.js';
import { ZapierSandbox } from '../src/testing/index.js';
import { ZapierDeliveryRunner } from '../src/delivery/zapier-delivery.runner.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { engineSkipReasons, freshDatabase } from './support/data-sources.js';
import {
  awaitMarkerEvent,
  postCallback,
  rows,
  sendCallback,
  signedRaw,
} from './support/callbacks.js';
import { CELLS } from './support/matrix.js';
import { runIds, runResultBody, SAMPLE_RESULTS, successCallback } from './support/sample-runs.js';
import { eventually } from './support/zapier-harness.js';
import { startZapierApp, type ZapierApp } from './support/zapier-app.js';

const skips = await engineSkipReasons();
const MiB = 1024 * 1024;
const MALFORMED_JSON = '{"data": {"id": "arun_broken", "status": "succ';
/** Fastify's own JSON parser answers a body it cannot parse, before the guard and the route. */
const FASTIFY_INVALID_JSON = {
  statusCode: 400,
  message: "Body is not valid JSON but content-type is set to 'application/json'",
};

let sandbox: ZapierSandbox;
before(async () => {
  sandbox = await ZapierSandbox.start({ rateLimit: false });
});
after(() => sandbox?.stop());

for (const { adapter, engine, async, name, key } of CELLS) {
  describe(`callbacks on ${name}`, { skip: skips[engine] }, () => {
    let zapier: ZapierApp;
    let cleanup: () => void;
    const runId = runIds(key);

    before(async () => {
      const db = await freshDatabase(engine, `callback_${key}`);
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
      cleanup?.();
    });
    beforeEach(() => {
      zapier.listener.events.length = 0;
    });

    it('stores a signed success callback and fires one completed event', async () => {
      const id = runId();
      const request = await sandbox.signer.callbackRequest(successCallback(id));
      const answer = await postCallback(zapier.url, request);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, { runId: id, duplicate: false });
      await zapier.listener.waitFor(1);
      const [heard] = zapier.listener.events;
      assert.equal(heard.name, 'zapier.run.completed');
      assert.equal(heard.event.runId, id);
      assert.deepEqual((heard.event as { results: unknown }).results, SAMPLE_RESULTS);
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
      assert.deepEqual(JSON.parse(String(row.results)), SAMPLE_RESULTS);
      assert.ok(Number(row.received_at) > 0 && Number(row.completed_at) >= Number(row.received_at));
      assert.equal((await zapier.app.get(ZapierRunsService).findRun(id))?.status, 'success');
      await awaitMarkerEvent(zapier, sandbox.signer, runId());
      assert.equal(zapier.listener.forRun(id).length, 1, 'exactly one event');
      await eventually('the condition', async () => {
        const [r] = (await rows(zapier.dataSource, 'zapier_action_runs')).filter(
          (x) => x.run_id === id,
        );
        return r.delivery_state === 'delivered';
      });
    });

    it('answers the same signed callback again 200 with duplicate: true, and emits nothing more', async () => {
      const id = runId();
      const request = await sandbox.signer.callbackRequest(successCallback(id));
      const first = await postCallback(zapier.url, request);
      assert.equal(first.status, 200);
      assert.deepEqual(first.body, { runId: id, duplicate: false });
      await zapier.listener.waitFor(1);
      const again = await postCallback(zapier.url, request);
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { runId: id, duplicate: true });
      await awaitMarkerEvent(zapier, sandbox.signer, runId());
      assert.equal(zapier.listener.forRun(id).length, 1);
      assert.equal((await zapier.app.get(ZapierRunsService).findRun(id))?.status, 'success');
    });

    it('answers a run result without a signature 401 and stores nothing', async () => {
      const id = runId();
      const quarantinedBefore = (await rows(zapier.dataSource, 'zapier_callback_quarantine'))
        .length;
      const answer = await postCallback(zapier.url, {
        headers: { 'content-type': 'application/json' },
        body: runResultBody(id),
      });
      assert.equal(answer.status, 401);
      assert.deepEqual(answer.body, new ZapierSignatureException('missing').getResponse());
      await awaitMarkerEvent(zapier, sandbox.signer, runId());
      assert.equal(await zapier.app.get(ZapierRunsService).findRun(id), null);
      assert.deepEqual(zapier.listener.forRun(id), []);
      assert.equal(
        (await rows(zapier.dataSource, 'zapier_callback_quarantine')).length,
        quarantinedBefore,
      );
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
        () =>
          zapier.logger.find(
            'warn',
            ZapierMessages.conflictingResult(id, 'success', 'callback', 'error'),
          ).length === 1,
      );
    });

    it('refuses a run id with a newline and an ANSI sequence 400, and logs it as one line, escaped', async () => {
      const id = `${runId()}\n[FAKE] \u001b[31mall good\u001b[0m`;
      const answer = await sendCallback(zapier.url, sandbox.signer, { id, status: 'success' });
      assert.equal(answer.status, 400);
      assert.deepEqual(
        answer.body,
        new ZapierInvalidCallbackException([
          ZapierMessages.runIdMalformed('id', 255),
        ]).getResponse(),
      );
      assert.equal(await zapier.app.get(ZapierRunsService).findRun(id), null);
      const [kept] = (await rows(zapier.dataSource, 'zapier_callback_quarantine')).filter((r) =>
        String(r.raw_body).includes('[FAKE]'),
      );
      assert.equal(kept.run_id, null, 'a malformed id is not kept as the run id');
      const naming = zapier.logger.entries.filter((entry) => entry.message.includes('[FAKE]'));
      for (const { message } of naming) assert.doesNotMatch(message, /\p{Cc}/u, message);
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
      await awaitMarkerEvent(zapier, sandbox.signer, runId());
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
        () =>
          zapier.logger.find(
            'warn',
            ZapierMessages.callbackRefused(Buffer.byteLength(tooBig.body), 12 * MiB),
          ).length > 0,
      );
    });

    // Each with the problems the module reports: the 400's message and the quarantine reason.
    for (const [name, body, contentType, problems] of [
      [
        'malformed JSON',
        MALFORMED_JSON,
        'application/json',
        [ZapierMessages.bodyInvalidJson(jsonParseError(MALFORMED_JSON))],
      ],
      [
        'no run id',
        JSON.stringify({ data: { type: 'run', status: 'success', results: [] } }),
        'application/json',
        [ZapierMessages.runIdMissing()],
      ],
      [
        'a status that is not terminal',
        JSON.stringify({ data: { type: 'run', id: 'arun_running', status: 'running' } }),
        'application/json',
        ['data.status must be one of the following values: success, error'],
      ],
      ['a JSON array', '[1,2,3]', 'application/json', [ZapierMessages.bodyNotObject()]],
      [
        'errors that are not objects',
        JSON.stringify({ data: { id: 'arun_e', status: 'error', errors: ['x'] } }),
        'application/json',
        [ZapierMessages.errorsNotObjects()],
      ],
      [
        'text/plain',
        JSON.stringify({ data: { id: 'arun_text', status: 'success' } }),
        'text/plain',
        [ZapierMessages.bodyNotJsonType('text/plain')],
      ],
    ] as const) {
      // Fastify parses JSON before the route runs, so it answers malformed signed JSON itself;
      // the module still quarantines the body. Unsigned, nothing is read: 401 on both.
      const parsedByFastify = adapter === 'fastify' && body === MALFORMED_JSON;

      it(`answers a signed callback with ${name} 400, quarantines it, stores and emits nothing`, async () => {
        const runsBefore = (await rows(zapier.dataSource, 'zapier_action_runs')).length;
        const quarantinedBefore = (await rows(zapier.dataSource, 'zapier_callback_quarantine'))
          .length;
        const answer = await postCallback(
          zapier.url,
          await signedRaw(sandbox.signer, body, contentType),
        );
        assert.equal(answer.status, 400);
        assert.deepEqual(
          answer.body,
          parsedByFastify
            ? FASTIFY_INVALID_JSON
            : new ZapierInvalidCallbackException([...problems]).getResponse(),
        );
        await eventually(
          'the quarantine row',
          async () =>
            (await rows(zapier.dataSource, 'zapier_callback_quarantine')).length ===
            quarantinedBefore + 1,
          5000,
        );
        const quarantined = (await rows(zapier.dataSource, 'zapier_callback_quarantine')).at(-1);
        assert.equal(quarantined?.raw_body, body);
        assert.equal(
          quarantined?.reason,
          parsedByFastify
            ? ZapierMessages.bodyUnparsable(FASTIFY_INVALID_JSON.message)
            : problems.join('; '),
        );
        assert.equal((await rows(zapier.dataSource, 'zapier_action_runs')).length, runsBefore);
        const marker = runId();
        await awaitMarkerEvent(zapier, sandbox.signer, marker);
        assert.deepEqual(
          zapier.listener.events.map((heard) => heard.event.runId),
          [marker],
        );
      });

      it(`answers an unsigned callback with ${name} 401 and keeps nothing`, async () => {
        const runsBefore = (await rows(zapier.dataSource, 'zapier_action_runs')).length;
        const quarantinedBefore = (await rows(zapier.dataSource, 'zapier_callback_quarantine'))
          .length;
        const answer = await postCallback(zapier.url, {
          headers: { 'content-type': contentType },
          body,
        });
        assert.equal(answer.status, 401);
        assert.deepEqual(answer.body, new ZapierSignatureException('missing').getResponse());
        assert.equal(
          (await rows(zapier.dataSource, 'zapier_callback_quarantine')).length,
          quarantinedBefore,
        );
        assert.equal((await rows(zapier.dataSource, 'zapier_action_runs')).length, runsBefore);
      });
    }
  });
}

function app(zapier: ZapierApp): ZapierDeliveryRunner {
  return zapier.app.get(ZapierDeliveryRunner);
}

/** What `JSON.parse` says about `text`: Node's wording, which the Express body reader passes on. */
function jsonParseError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} is valid JSON`);
}
