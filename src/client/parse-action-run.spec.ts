import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseActionRun } from './parse-action-run.js';

describe('parseActionRun', () => {
  it('reads the reference shape (no id: the requested one is used)', () => {
    const { run, unknownStatus } = parseActionRun(
      200,
      { data: { type: 'run', status: 'success', results: [{ a: 1 }], errors: [] } },
      'arun_1',
    );
    assert.deepEqual(run, {
      id: 'arun_1',
      status: 'success',
      rawStatus: 'success',
      results: [{ a: 1 }],
      errors: [],
    });
    assert.equal(unknownStatus, null);
  });

  it('reads the guide shape: run_id and an object result', () => {
    const { run } = parseActionRun(
      200,
      {
        data: {
          run_id: 'arun_2',
          status: 'error',
          results: { x: 1 },
          errors: [{ code: 'user', title: 'T', detail: 'D', delay: 5 }],
        },
      },
      'asked',
    );
    assert.equal(run.id, 'arun_2');
    assert.deepEqual(run.results, [{ x: 1 }]);
    assert.deepEqual(run.errors, [{ code: 'user', title: 'T', detail: 'D', delay: 5 }]);
    assert.equal(run.status, 'error');
  });

  it('ignores an id that is not a well-formed run id (control characters, empty, too long)', () => {
    const read = (data: Record<string, unknown>) => parseActionRun(200, { data }, 'asked').run.id;
    assert.equal(read({ id: 'arun_\u0000', run_id: 'arun_3' }), 'arun_3');
    assert.equal(read({ id: 'arun_\n', run_id: '\u0007' }), 'asked');
    assert.equal(read({ id: '', run_id: 'x'.repeat(256) }), 'asked');
    assert.equal(read({ id: 'arun_é' }), 'arun_é');
  });

  it('treats 202, waiting, queued, running and a missing status as pending', () => {
    assert.equal(parseActionRun(202, undefined, 'a').run.status, 'pending');
    assert.equal(parseActionRun(202, { data: { status: 'success' } }, 'a').run.status, 'pending');
    for (const status of ['waiting', 'queued', 'running']) {
      const parsed = parseActionRun(200, { data: { status } }, 'a');
      assert.equal(parsed.run.status, 'pending');
      assert.equal(parsed.unknownStatus, null);
    }
    assert.equal(parseActionRun(200, { data: {} }, 'a').run.status, 'pending');
  });

  it('never reads success from an unknown status, and reports it', () => {
    const parsed = parseActionRun(200, { data: { status: 'succeeded' } }, 'a');
    assert.equal(parsed.run.status, 'pending');
    assert.equal(parsed.run.rawStatus, 'succeeded');
    assert.equal(parsed.unknownStatus, 'succeeded');
  });

  it('keeps code as an open string and defaults what is missing', () => {
    const { run } = parseActionRun(
      200,
      { data: { status: 'error', errors: [{ code: 'authentication_error' }, 'junk', null] } },
      'a',
    );
    assert.deepEqual(run.errors, [{ code: 'authentication_error', title: '', detail: '' }]);
    assert.deepEqual(run.results, []);
  });
});
