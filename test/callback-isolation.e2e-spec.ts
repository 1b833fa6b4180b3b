import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ZapierCallbackService,
  ZapierInvalidCallbackException,
  ZapierUnavailableException,
} from '../src/index.js';
import { ZapierSandbox } from '../src/testing/index.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { engineSkipReasons, freshDatabase, type Engine } from './support/data-sources.js';
import { lockRunRow } from './support/row-lock.js';
import { postCallback, rows, sendCallback, type HttpAnswer } from './support/callbacks.js';
import { runIds, successCallback } from './support/sample-runs.js';
import { eventually, sleep } from './support/zapier-harness.js';
import { startZapierApp, type ZapierApp } from './support/zapier-app.js';

const skips = await engineSkipReasons();
const MiB = 1024 * 1024;

let sandbox: ZapierSandbox;
before(async () => {
  sandbox = await ZapierSandbox.start({ rateLimit: false });
});
after(() => sandbox?.stop());

/** An app on a fresh database of `engine`, with its teardown. */
async function appOn(engine: Engine, name: string): Promise<{ zapier: ZapierApp; url?: string }> {
  const db = await freshDatabase(engine, name);
  const zapier = await startZapierApp({
    adapter: 'express',
    database: db.options,
    zapier: { jwksUrl: sandbox.jwksUrl },
  });
  const close = zapier.close;
  zapier.close = async () => {
    await close();
    db.cleanup();
  };
  return { zapier, url: 'url' in db.options ? db.options.url : undefined };
}

async function storedIds(zapier: ZapierApp): Promise<string[]> {
  return (await rows(zapier.dataSource, 'zapier_action_runs')).map((row) => String(row.run_id));
}

for (const engine of ['sqlite', 'postgres', 'mariadb'] as Engine[]) {
  describe(
    `run ids with control characters (${engine})`,
    {
      skip: skips[engine],
    },
    () => {
      let zapier: ZapierApp;
      before(async () => {
        ({ zapier } = await appOn(engine, `isolation_ids_${engine}`));
      });
      after(() => zapier?.close());

      it('answers a callback whose run id has a NUL 400 and quarantines it; its concurrent neighbours get 200 and are stored', async () => {
        const nextId = runIds(`ids_${engine}`);
        const good = Array.from({ length: 19 }, () => nextId());
        const bad = 'arun_nul_\u0000_1';
        const sent = [...good.slice(0, 9), bad, ...good.slice(9)];
        const answers = await Promise.all(
          sent.map((id) => sendCallback(zapier.url, sandbox.signer, successCallback(id))),
        );
        answers.forEach((answer, i) => {
          if (sent[i] === bad) {
            assert.equal(answer.status, 400);
            assert.deepEqual(
              answer.body,
              new ZapierInvalidCallbackException([
                ZapierMessages.runIdMalformed('id', 255),
              ]).getResponse(),
            );
          } else {
            assert.deepEqual(answer, { status: 200, body: { runId: sent[i], duplicate: false } });
          }
        });
        assert.deepEqual((await storedIds(zapier)).sort(), [...good].sort());
        const quarantined = await rows(zapier.dataSource, 'zapier_callback_quarantine');
        assert.equal(quarantined.length, 1);
        assert.equal(quarantined[0].run_id, null);
        assert.equal(quarantined[0].reason, ZapierMessages.runIdMalformed('id', 255));
        assert.ok(String(quarantined[0].raw_body).includes('arun_nul_\\u0000_1'));
      });
    },
  );
}

/**
 * Holds the module's result writes: a callback for a run whose row another connection keeps
 * locked waits inside its statement, so the group commit (one batch at a time) queues everything
 * submitted meanwhile into the next batch, together.
 */
async function holdWrites(
  zapier: ZapierApp,
  engine: Engine,
  url: string,
): Promise<{ release(): Promise<void>; held: Promise<HttpAnswer> }> {
  const blocker = `arun_blocker_${Date.now()}`;
  const stored = await sendCallback(zapier.url, sandbox.signer, successCallback(blocker));
  assert.equal(stored.status, 200);
  const lock = await lockRunRow(engine, url, blocker);
  const held = sendCallback(zapier.url, sandbox.signer, successCallback(blocker));
  try {
    await eventually('the module to wait for the locked row', () => lock.othersWaiting());
  } catch (error) {
    await lock.release();
    throw error;
  }
  return { held, release: () => lock.release() };
}

describe('one refused result in a batch (postgres)', { skip: skips.postgres }, () => {
  let zapier: ZapierApp;
  let url: string;
  before(async () => {
    const started = await appOn('postgres', 'isolation_batch');
    zapier = started.zapier;
    url = String(started.url);
  });
  after(() => zapier?.close());

  it('fails only the callback whose value PostgreSQL refuses (22021) with 400; its batch neighbours get 200 and are stored', async () => {
    const { held, release } = await holdWrites(zapier, 'postgres', url);
    const nextId = runIds('batch');
    const good = Array.from({ length: 10 }, () => nextId());
    const answers = good.map((id) => sendCallback(zapier.url, sandbox.signer, successCallback(id)));
    // A host route (registerController: false) hands the service the body as it received it; a
    // NUL in that text is what PostgreSQL refuses (invalid byte sequence, SQLSTATE 22021).
    const culpritId = nextId();
    const body = { data: { type: 'run', id: culpritId, status: 'success', results: [] } };
    const culprit = zapier.app
      .get(ZapierCallbackService)
      .handle({ body, rawBody: `${JSON.stringify(body)}\u0000` })
      .then(
        () => assert.fail('the refused callback was accepted'),
        (error: unknown) => error,
      );
    // The requests reach the handler within milliseconds; all of them then wait in one queue.
    await sleep(300);
    await release();
    assert.equal((await held).status, 200);

    for (const [i, answer] of (await Promise.all(answers)).entries()) {
      assert.deepEqual(answer, { status: 200, body: { runId: good[i], duplicate: false } });
    }
    const error = await culprit;
    assert.ok(error instanceof ZapierInvalidCallbackException, String(error));
    assert.equal(error.getStatus(), 400);
    assert.equal(error.problems.length, 1);
    assert.match(
      error.problems[0],
      /^its result cannot be stored, since the database refused a value in it \(22021: /,
    );
    const stored = await storedIds(zapier);
    for (const id of good) assert.ok(stored.includes(id), `${id} stored`);
    assert.ok(!stored.includes(culpritId), 'the refused run is not stored');
    // The quarantine refuses the same text; the 400 stands, and says so in the log.
    assert.equal(
      zapier.logger.find('warn', /Could not quarantine a refused callback for run/).length,
      1,
    );
    assert.equal(zapier.logger.find('error', /Storing callbacks failed/).length, 0);
  });
});

for (const engine of ['postgres', 'mariadb'] as Engine[]) {
  describe(`the queue of results waiting for ${engine}`, { skip: skips[engine] }, () => {
    let zapier: ZapierApp;
    let url: string;
    before(async () => {
      const started = await appOn(engine, `isolation_bound_${engine}`);
      zapier = started.zapier;
      url = String(started.url);
    });
    after(() => zapier?.close());

    it('answers 503 at once when the results waiting for the database exceed the queue bound', async () => {
      const { held, release } = await holdWrites(zapier, engine, url);
      // Bodies of 15 MiB: four fit in the bound of 64 MiB waiting, the fifth does not.
      const nextId = runIds(`bound_${engine}`);
      const ids = Array.from({ length: 5 }, () => nextId());
      const requests = await Promise.all(
        ids.map((id) =>
          sandbox.signer.callbackRequest({
            id,
            status: 'success',
            results: [{ blob: 'x'.repeat(15 * MiB) }],
          }),
        ),
      );
      const answers = requests.map((request) => postCallback(zapier.url, request));
      const refused = await Promise.race(
        answers.map((answer, i) => answer.then((a) => ({ i, answer: a }))),
      );
      assert.equal(refused.answer.status, 503);
      assert.deepEqual(
        refused.answer.body,
        new ZapierUnavailableException(ZapierMessages.storageBusy()).getResponse(),
      );
      await release();
      assert.equal((await held).status, 200);
      const settled = await Promise.all(answers);
      assert.deepEqual(settled.map((answer) => answer.status).sort(), [200, 200, 200, 200, 503]);
      const stored = await storedIds(zapier);
      ids.forEach((id, i) => assert.equal(stored.includes(id), i !== refused.i, id));
      // Zapier's retry of the refused one is stored once the queue has room again.
      const retry = await postCallback(zapier.url, requests[refused.i]);
      assert.deepEqual(retry, { status: 200, body: { runId: ids[refused.i], duplicate: false } });
    });
  });
}
