import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles from the base, within ±20% jitter', () => {
    assert.equal(
      backoffDelay(1, 1000, 60_000, () => 0.5),
      1000,
    );
    assert.equal(
      backoffDelay(2, 1000, 60_000, () => 0.5),
      2000,
    );
    assert.equal(
      backoffDelay(4, 1000, 60_000, () => 0.5),
      8000,
    );
    assert.equal(
      backoffDelay(1, 1000, 60_000, () => 0),
      800,
    );
    assert.equal(
      backoffDelay(1, 1000, 60_000, () => 1),
      1200,
    );
  });

  it('never exceeds the cap, even with jitter, and survives huge retry counts', () => {
    assert.equal(
      backoffDelay(30, 1000, 60_000, () => 1),
      60_000,
    );
    assert.equal(
      backoffDelay(10_000, 1000, 60_000, () => 0.5),
      60_000,
    );
    assert.equal(
      backoffDelay(0, 1000, 60_000, () => 0.5),
      1000,
    );
  });
});
