import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../test/support/zapier-harness.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { LeaseKeeper } from './lease-keeper.js';

/** Renewals every 50 ms (leaseMs / 3). */
const LEASE_MS = 150;
/** Several beats: how long the tests watch for renewals that must not happen. */
const QUIET_MS = 4 * (LEASE_MS / 3);

interface RenewCall {
  ids: string[];
  until: number;
  /** Real time of the call, for the spacing between beats. */
  at: number;
}

describe('LeaseKeeper', () => {
  let now = 1_000_000;
  const clock: ZapierClock = { now: () => now };
  const keepers: LeaseKeeper[] = [];

  afterEach(() => {
    for (const keeper of keepers.splice(0)) keeper.stop();
  });

  /** A keeper whose renewals are recorded; `renew` may replace what a renewal does. */
  function keeper(renew: (call: RenewCall) => Promise<void> = () => Promise.resolve()) {
    const calls: RenewCall[] = [];
    const errors: unknown[] = [];
    const leases = new LeaseKeeper(
      LEASE_MS,
      clock,
      (ids, until) => {
        const call = { ids: [...ids].sort(), until, at: Date.now() };
        calls.push(call);
        return renew(call);
      },
      (error) => errors.push(error),
    );
    keepers.push(leases);
    return { leases, calls, errors };
  }

  it('counts holds: an id held twice stays held until released twice', () => {
    const { leases } = keeper();
    leases.hold('a');
    leases.hold('a');
    leases.hold('b');
    assert.equal(leases.size, 2);
    leases.release('a');
    assert.equal(leases.isHeld('a'), true);
    leases.release('a');
    assert.equal(leases.isHeld('a'), false);
    assert.equal(leases.size, 1);
    leases.release('b');
    assert.equal(leases.size, 0);
  });

  it('ignores a release of an id it does not hold, without going below zero', () => {
    const { leases } = keeper();
    leases.release('stray');
    assert.equal(leases.size, 0);
    leases.hold('stray');
    leases.release('stray');
    assert.equal(leases.isHeld('stray'), false, 'one hold, one release');
  });

  it('gives claims until the clock plus leaseMs', () => {
    const { leases } = keeper();
    assert.equal(leases.claimUntil(), now + LEASE_MS);
    now += 5_000;
    assert.equal(leases.claimUntil(), now + LEASE_MS);
  });

  it('renews every held id in one call per beat, until the moved clock plus leaseMs', async () => {
    const { leases, calls } = keeper();
    leases.hold('c');
    leases.hold('a');
    leases.hold('b');
    await eventually('two renewals', () => calls.length >= 2);
    for (const call of calls) {
      assert.deepEqual(call.ids, ['a', 'b', 'c'], 'all held ids in each call');
      assert.equal(call.until, now + LEASE_MS);
    }

    now += 60_000;
    const seen = calls.length;
    await eventually('a renewal after the clock moved', () => calls.length > seen);
    assert.equal(calls.at(-1)?.until, now + LEASE_MS);

    leases.release('b');
    const before = calls.length;
    await eventually('a renewal after a release', () => calls.length > before + 1);
    assert.deepEqual(calls.at(-1)?.ids, ['a', 'c'], 'a released id is no longer renewed');

    for (let i = 1; i < calls.length; i++) {
      const gap = calls[i].at - calls[i - 1].at;
      assert.ok(gap >= 40, `one call per ${LEASE_MS / 3} ms beat (calls ${gap} ms apart)`);
    }
  });

  it('reports a failing renewal and keeps renewing', async () => {
    const failure = new Error('database unreachable');
    let failuresLeft = 2;
    const { leases, calls, errors } = keeper(() =>
      failuresLeft-- > 0 ? Promise.reject(failure) : Promise.resolve(),
    );
    leases.hold('run-1');
    await eventually('renewals after the failures', () => calls.length >= 4);
    assert.deepEqual(errors, [failure, failure]);
    assert.equal(leases.isHeld('run-1'), true);
    assert.deepEqual(calls.at(-1)?.ids, ['run-1']);
  });

  it('never starts a renewal while the previous one is still running', async () => {
    let running = 0;
    let peak = 0;
    const { leases, calls } = keeper(async () => {
      running += 1;
      peak = Math.max(peak, running);
      await sleep(LEASE_MS - 30);
      running -= 1;
    });
    leases.hold('slow');
    await eventually('three slow renewals', () => calls.length >= 3);
    assert.equal(peak, 1, 'one renewal at a time');
    for (let i = 1; i < calls.length; i++) {
      const gap = calls[i].at - calls[i - 1].at;
      assert.ok(gap >= LEASE_MS - 35, `the next renewal waited for the last (${gap} ms apart)`);
    }
  });

  it('runs no timer while nothing is held', async () => {
    const { leases, calls } = keeper();
    await sleep(QUIET_MS);
    assert.equal(calls.length, 0, 'no renewal before anything is held');

    leases.hold('x');
    await eventually('a renewal while held', () => calls.length >= 1);
    leases.release('x');
    const after = calls.length;
    await sleep(QUIET_MS);
    assert.equal(calls.length, after, 'no renewal once everything is released');

    leases.hold('y');
    await eventually('renewals again on the next hold', () => calls.length > after);
    assert.deepEqual(calls.at(-1)?.ids, ['y']);
  });

  it('stops renewing on stop(), even with ids held', async () => {
    const { leases, calls } = keeper();
    leases.hold('z');
    await eventually('a renewal', () => calls.length >= 1);
    leases.stop();
    const after = calls.length;
    await sleep(QUIET_MS);
    assert.equal(calls.length, after);
    assert.equal(leases.isHeld('z'), true);
  });

  it('holds an id while work runs and releases it afterwards, even when the work throws', async () => {
    const { leases } = keeper();
    const value = await leases.while('w', () => {
      assert.equal(leases.isHeld('w'), true);
      return Promise.resolve(42);
    });
    assert.equal(value, 42);
    assert.equal(leases.isHeld('w'), false);

    await assert.rejects(
      leases.while('w', () => Promise.reject(new Error('read failed'))),
      /read failed/,
    );
    assert.equal(leases.isHeld('w'), false);
    assert.equal(leases.size, 0);
  });
});
