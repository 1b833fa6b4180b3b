import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundedSleep, MAX_SLEEP_STEP_MS } from './bounded-sleep.js';

describe('boundedSleep', () => {
  it('keeps every timer far below the 2^31-1 ms at which node fires after 1 ms', () => {
    assert.ok(MAX_SLEEP_STEP_MS < 2 ** 31 - 1);
  });

  it('sleeps a short wait once, and no wait at all for zero, negatives and NaN', async () => {
    const started = Date.now();
    await boundedSleep(30);
    assert.ok(Date.now() - started >= 25);
    for (const none of [0, -1, Number.NaN]) {
      const at = Date.now();
      await boundedSleep(none);
      assert.ok(Date.now() - at < 20, String(none));
    }
  });

  it('stays asleep on a wait beyond any timer, without overflow warnings, until aborted', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      for (const huge of [2 ** 31, 1e15, Number.POSITIVE_INFINITY]) {
        const stop = new AbortController();
        let settled = false;
        const sleeping = boundedSleep(huge, stop.signal).finally(() => (settled = true));
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(settled, false, String(huge));
        stop.abort();
        await assert.rejects(sleeping, { name: 'AbortError' });
      }
      await assert.rejects(boundedSleep(10, AbortSignal.abort()), { name: 'AbortError' });
      assert.deepEqual(
        warnings.filter((warning) => warning.name === 'TimeoutOverflowWarning'),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });
});
