import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SandboxRateLimiter } from './sandbox-rate-limiter.js';
import { ZapierSandbox } from './zapier-sandbox.js';
import type { ZapierSandboxOptions } from './zapier-sandbox.interfaces.js';

const T0 = Date.UTC(2026, 0, 1);

void describe('ZapierSandbox rate limit', () => {
  let sandbox: ZapierSandbox | undefined;
  let clock = T0;
  afterEach(async () => {
    await sandbox?.stop();
    clock = T0;
  });

  async function start(options: ZapierSandboxOptions = {}) {
    sandbox = await ZapierSandbox.start({
      rateLimit: { perMinute: 5, cooldownMs: 60_000 },
      now: () => clock,
      ...options,
    });
    return sandbox;
  }

  async function poll(target: ZapierSandbox) {
    return fetch(`${target.url}/v2/action-runs/arun_unknown`, {
      headers: { authorization: `Bearer ${target.accessToken}` },
    });
  }

  void it('answers the 6th request in a minute with 429 and rate-limit headers', async () => {
    const target = await start();
    const remaining = [];
    for (let request = 0; request < 5; request += 1) {
      const response = await poll(target);
      assert.equal(response.status, 404);
      assert.equal(response.headers.get('x-ratelimit-limit'), '5');
      remaining.push(response.headers.get('x-ratelimit-remaining'));
    }
    assert.deepEqual(remaining, ['4', '3', '2', '1', '0']);
    const limited = await poll(target);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '60');
    assert.equal(limited.headers.get('x-ratelimit-limit'), '5');
    assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(limited.headers.get('x-ratelimit-reset'), String((T0 + 60_000) / 1000));
    const body = (await limited.json()) as { errors: { status: number; code: string }[] };
    assert.equal(body.errors[0]?.status, 429);
    assert.equal(body.errors[0]?.code, 'throttled');
    assert.equal(target.rateLimited, 1);
  });

  void it('keeps refusing during the cooldown, even once the window has room', async () => {
    const target = await start({ rateLimit: { perMinute: 5, cooldownMs: 90_000 } });
    for (let request = 0; request < 5; request += 1) await poll(target);
    clock += 1000;
    assert.equal((await poll(target)).status, 429);
    clock += 70_000;
    const during = await poll(target);
    assert.equal(during.status, 429, 'the window emptied but the cooldown still runs');
    assert.equal(during.headers.get('retry-after'), '20');
    assert.equal(target.rateLimited, 2);
    clock += 20_000;
    assert.equal((await poll(target)).status, 404, 'recovered after the cooldown');
  });

  void it('sends Retry-After in the form asked for', async () => {
    const forms = {
      seconds: '60',
      'http-date': new Date(T0 + 60_000).toUTCString(),
      'epoch-seconds': String((T0 + 60_000) / 1000),
      'epoch-ms': String(T0 + 60_000),
    } as const;
    for (const [retryAfter, expected] of Object.entries(forms)) {
      const target = await start({
        rateLimit: {
          perMinute: 1,
          cooldownMs: 60_000,
          retryAfter: retryAfter as keyof typeof forms,
        },
      });
      await poll(target);
      const limited = await poll(target);
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get('retry-after'), expected, retryAfter);
      await target.stop();
    }
  });

  void it('limits every API request: creates and unauthorised ones count', async () => {
    const target = await start();
    const create = () =>
      fetch(`${target.url}/v2/action-runs/`, { method: 'POST', body: '{}' }).then((r) => r.status);
    const statuses = [];
    for (let request = 0; request < 6; request += 1) statuses.push(await create());
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    assert.equal(target.requests.at(-1)?.status, 429);
  });

  void it('slides the window: requests older than 60 s free their slots', async () => {
    const target = await start();
    for (let request = 0; request < 3; request += 1) await poll(target);
    clock += 30_000;
    for (let request = 0; request < 2; request += 1) await poll(target);
    clock += 30_001;
    const statuses = [];
    for (let request = 0; request < 4; request += 1) statuses.push((await poll(target)).status);
    assert.deepEqual(statuses, [404, 404, 404, 429]);
  });

  void it('does not count JWKS requests', async () => {
    const target = await start();
    for (let request = 0; request < 8; request += 1) {
      assert.equal((await fetch(target.jwksUrl)).status, 200);
    }
    assert.equal((await poll(target)).status, 404);
    assert.equal(target.jwksRequests, 8);
  });

  void it('can be switched off', async () => {
    const target = await start({ rateLimit: false });
    for (let request = 0; request < 70; request += 1) {
      const response = await poll(target);
      assert.equal(response.status, 404);
      assert.equal(response.headers.get('x-ratelimit-limit'), null);
    }
    assert.equal(target.rateLimited, 0);
  });

  void it('defaults to 60 a minute', async () => {
    const target = await start({ rateLimit: undefined });
    const statuses = new Set<number>();
    for (let request = 0; request < 60; request += 1) statuses.add((await poll(target)).status);
    assert.deepEqual([...statuses], [404]);
    assert.equal((await poll(target)).status, 429);
  });
});

void describe('SandboxRateLimiter', () => {
  void it('stays exact over thousands of requests', () => {
    const limiter = new SandboxRateLimiter(100, 1);
    let allowed = 0;
    // One request every 500 ms is 120 a window: each cycle of 120 allows 100 and refuses 20.
    for (let request = 0; request < 5000; request += 1) {
      if (limiter.check(request * 500 + 10).allowed) allowed += 1;
    }
    assert.equal(allowed, 41 * 100 + 80);
    // Mid-cycle the window holds 99 earlier requests: this one fills it, the next is refused.
    const probe = limiter.check(5000 * 500 + 10);
    assert.deepEqual([probe.allowed, probe.remaining], [true, 0]);
    assert.equal(limiter.check(5000 * 500 + 10).allowed, false);
  });

  void it('reports remaining and reset from the oldest request in the window', () => {
    const limiter = new SandboxRateLimiter(3, 10_000);
    assert.deepEqual(limiter.check(1000), {
      allowed: true,
      limit: 3,
      remaining: 2,
      resetAt: 61_000,
    });
    assert.equal(limiter.check(2000).remaining, 1);
    assert.equal(limiter.check(3000).remaining, 0);
    assert.deepEqual(limiter.check(4000), {
      allowed: false,
      limit: 3,
      remaining: 0,
      resetAt: 14_000,
    });
  });
});
