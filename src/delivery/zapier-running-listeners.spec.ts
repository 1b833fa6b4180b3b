import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZapierRunningListeners } from './zapier-running-listeners.js';

describe('ZapierRunningListeners', () => {
  it('names the tracked listeners that have not returned for a watched event', async () => {
    const running = new ZapierRunningListeners();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const slow = running.track('Orders.slow()', (_event: object) => gate);
    const quick = running.track('Orders.quick()', (_event: object) => Promise.resolve());
    const sync = running.track('Orders.sync()', (_event: object) => 'done');
    const event = { runId: 'r1' };
    running.watch(event);

    const pending = [slow(event), slow(event), quick(event)];
    assert.equal(sync(event), 'done');
    await Promise.resolve();
    assert.deepEqual(running.running(event), ['Orders.slow()']);
    open();
    await Promise.all(pending);
    await Promise.resolve();
    assert.deepEqual(running.running(event), []);
  });

  it('passes calls with other payloads through, and leaves errors to the caller', async () => {
    const running = new ZapierRunningListeners();
    const failing = running.track('Orders.failing()', (reason: string) =>
      Promise.reject(new Error(reason)),
    );
    const throwing = running.track('Orders.throwing()', (event: object) => {
      throw new Error(`sync ${JSON.stringify(event)}`);
    });
    const event = { runId: 'r2' };
    running.watch(event);
    await assert.rejects(failing('host event'), /host event/);
    assert.throws(() => throwing(event), /sync/);
    assert.deepEqual(running.running(event), []);
    assert.deepEqual(running.running({ runId: 'never watched' }), []);
  });
});
