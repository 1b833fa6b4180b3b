import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZapierMessages } from '../zapier.messages.js';
import { parseActionRunCallback } from './parse-action-run-callback.js';

/** The problems reported for a body, or `accepted`; the properties are in the .property spec. */
function problemsOf(body: unknown): string[] | 'accepted' {
  const outcome = parseActionRunCallback(body);
  return outcome.ok ? 'accepted' : outcome.problems;
}

describe('parseActionRunCallback (problems)', () => {
  it('reports a run id missing in both shapes as one problem', () => {
    for (const data of [
      { type: 'run', status: 'success', results: [] },
      { id: undefined, run_id: undefined, status: 'success' },
    ]) {
      assert.deepEqual(problemsOf({ data }), [ZapierMessages.runIdMissing()]);
    }
  });

  it('lists a missing run id first, next to the other problems of the body', () => {
    assert.deepEqual(problemsOf({ data: { status: 'running' } }), [
      ZapierMessages.runIdMissing(),
      // class-validator's own wording.
      'data.status must be one of the following values: success, error',
    ]);
  });

  it('names the id field that is malformed, in either shape', () => {
    assert.deepEqual(problemsOf({ data: { id: '', status: 'success' } }), [
      ZapierMessages.runIdMalformed('id', 255),
    ]);
    assert.deepEqual(problemsOf({ data: { run_id: 7, status: 'success' } }), [
      ZapierMessages.runIdMalformed('run_id', 255),
    ]);
  });

  it('refuses a run id with a control character (C0, DEL, C1) in either shape', () => {
    for (const bad of [
      'arun_\u0000x',
      'arun_1\n',
      'arun\u001b[31m',
      'arun_\u007f',
      'arun_\u0085',
    ]) {
      assert.deepEqual(problemsOf({ data: { id: bad, status: 'success' } }), [
        ZapierMessages.runIdMalformed('id', 255),
      ]);
      assert.deepEqual(problemsOf({ data: { run_id: bad, status: 'success' } }), [
        ZapierMessages.runIdMalformed('run_id', 255),
      ]);
    }
    // Printable text beyond ASCII is an id like any other.
    assert.equal(problemsOf({ data: { id: 'arun_é_日本_🎉', status: 'success' } }), 'accepted');
  });

  it('accepts either shape of the run id', () => {
    assert.equal(problemsOf({ data: { id: 'arun_1', status: 'success' } }), 'accepted');
    assert.equal(problemsOf({ data: { run_id: 'arun_1', status: 'success' } }), 'accepted');
  });

  it('reports a body or data that is not an object, and errors that are not objects', () => {
    assert.deepEqual(problemsOf([1, 2]), [ZapierMessages.bodyNotObject()]);
    assert.deepEqual(problemsOf({ data: 'run' }), [ZapierMessages.dataNotObject()]);
    assert.deepEqual(problemsOf({ data: { id: 'arun_2', status: 'error', errors: ['x'] } }), [
      ZapierMessages.errorsNotObjects(),
    ]);
  });

  it('refuses data nested deeper than 1000 levels', () => {
    let deep: unknown = {};
    for (let i = 0; i < 1001; i++) deep = { inner: deep };
    assert.deepEqual(problemsOf({ data: { id: 'arun_3', status: 'success', results: deep } }), [
      ZapierMessages.dataTooDeep(1000),
    ]);
  });
});
