import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { migratedDataSource } from '../../test/support/data-sources.js';
import { lifecycleOver } from '../../test/support/lifecycle.js';
import { ZapierInvalidCallbackException } from '../errors/zapier-http.exceptions.js';
import { resolveZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierMessages } from '../zapier.messages.js';
import { toCallbackPayload } from '../testing/callback-payload.js';
import { ZapierCallbackService } from './zapier-callback.service.js';

/** A callback whose results are `depth` nested arrays: built in a loop, as a parser would. */
function nestedCallback(depth: number): unknown {
  let results: unknown[] = [];
  for (let level = 1; level < depth; level++) results = [results];
  return toCallbackPayload({ id: 'run-deep', status: 'success', results });
}

describe('ZapierCallbackService with a body parsed before it reached the module', () => {
  const options = resolveZapierOptions({ resultLimits: { maxDepth: 16, maxValues: 1000 } });
  const clock = { now: () => Date.now() };
  let dataSource: DataSource;
  let close: () => Promise<void>;
  let callbacks: ZapierCallbackService;
  const table = (name: string): Promise<unknown[]> => dataSource.query(`SELECT * FROM ${name}`);

  before(async () => {
    ({ dataSource, close } = await migratedDataSource('sqlite', 'callback_service_spec'));
    callbacks = new ZapierCallbackService(
      lifecycleOver(dataSource, options, clock),
      clock,
      options,
    );
  });
  after(() => close());

  it('refuses one nested deeper than the call stack with a 400, not a stack overflow', async () => {
    // Far deeper than `JSON.stringify` can serialise: it would throw a RangeError (a 500).
    const body = nestedCallback(100_000);
    assert.throws(() => JSON.stringify(body), RangeError);
    const refusal = await callbacks.handle({ body }).then(
      () => assert.fail('accepted'),
      (error: unknown) => error,
    );
    assert.ok(refusal instanceof ZapierInvalidCallbackException);
    assert.equal(refusal.getStatus(), 400);
    assert.deepEqual(refusal.problems, [ZapierMessages.jsonTooDeep('the callback body', 18)]);
    const kept = (await table('zapier_callback_quarantine')) as Array<{ reason: string }>;
    assert.deepEqual(
      kept.map((row) => row.reason),
      [ZapierMessages.jsonTooDeep('the callback body', 18)],
    );
    assert.deepEqual(await table('zapier_action_runs'), [], 'nothing stored for the run');
  });

  it('stores one within the limits as it came', async () => {
    const receipt = await callbacks.handle({ body: nestedCallback(16) });
    assert.deepEqual(receipt, { runId: 'run-deep', duplicate: false });
  });
});
