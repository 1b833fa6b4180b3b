import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ZapierCallbackUrlError } from '../src/common/callback-url.js';
import { ZapierApiError, ZapierRateLimitedError } from '../src/client/zapier-api.error.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { startDelayingProxy } from './support/delaying-proxy.js';
import { engineSkipReasons } from './support/data-sources.js';
import {
  describeOnEachEngine,
  creates,
  eventually,
  polls,
  PUBLIC_CALLBACK_URL,
  readBudget,
  readRun,
  readRuns,
  sleep,
  TestClock,
} from './support/zapier-harness.js';
import { SAMPLE_RESULTS, SAMPLE_RUN } from './support/sample-runs.js';

const skips = await engineSkipReasons();

describeOnEachEngine(
  'ZapierClient against the sandbox',
  'h2_client',
  skips,
  (setup, _engine, cleanups) => {
    it('POSTs the reference envelope with the module callbackUrl and records the run pending', async () => {
      const clock = new TestClock();
      const { sandbox, zapier } = await setup({ clock });
      sandbox.queueOutcome({ status: 'success', callback: 'never' });
      const before = clock.now();
      const { id } = await zapier.client.createActionRun({
        ...SAMPLE_RUN,
        metadata: { orderId: 42 },
      });
      const after = clock.now();

      const [post] = creates(sandbox);
      assert.equal(creates(sandbox).length, 1);
      assert.equal(post.path, '/v2/action-runs/');
      assert.equal(post.status, 200);
      assert.deepEqual(post.body, {
        data: {
          action: 'act_1',
          authentication: 'conn_1',
          inputs: { to: 'a@example.com' },
          callback_url: PUBLIC_CALLBACK_URL,
        },
      });
      assert.deepEqual(sandbox.runIds(), [id]);
      assert.equal(sandbox.run(id)?.request.bodyShape, 'reference');

      const row = await readRun(zapier.dataSource, id);
      assert.ok(row);
      assert.equal(row.status, 'pending');
      assert.equal(row.action, 'act_1');
      assert.deepEqual(row.metadata, { orderId: 42 });
      assert.ok(row.submittedAt !== null && row.submittedAt >= before && row.submittedAt <= after);
      assert.equal(row.pollNextAt, row.submittedAt + 60_000);
      assert.equal(row.deliveryState, 'none');
      await sandbox.whenIdle();
      assert.equal(zapier.listener.events.length, 0);
    });

    it('sends the flat body with createBodyShape "flat"; a per-call callbackUrl wins', async () => {
      const { sandbox, zapier } = await setup({ zapier: { createBodyShape: 'flat' } });
      const callbackUrl = 'https://other.example.com/zapier/callbacks?tenant=7';
      const { id } = await zapier.client.createActionRun({
        ...SAMPLE_RUN,
        authentication: null,
        callbackUrl,
        metadata: { userId: 'u1' },
      });
      assert.deepEqual(creates(sandbox)[0].body, {
        action: 'act_1',
        authentication: null,
        input: { to: 'a@example.com' },
        callback_url: callbackUrl,
      });
      assert.equal(sandbox.run(id)?.request.bodyShape, 'guide');
      assert.equal(sandbox.run(id)?.request.callbackUrl, callbackUrl);
      // The callback Zapier sends to that URL completes the run with the metadata.
      await zapier.listener.waitFor(1);
      assert.equal(zapier.listener.events[0].event.runId, id);
      assert.deepEqual(zapier.listener.events[0].event.metadata, { userId: 'u1' });
    });

    it('refuses a bad callback_url, naming the rule, before any request is sent', async () => {
      const { sandbox, zapier } = await setup();
      const cases: Array<[string, ZapierCallbackUrlError['rule']]> = [
        ['http://hooks.example.com/cb', 'https'],
        ['not a url', 'syntax'],
        [`https://hooks.example.com/${'a'.repeat(2048)}`, 'length'],
        ['https://10.1.2.3/cb', 'private-address'],
        ['https://172.16.0.1/cb', 'private-address'],
        ['https://172.31.255.254/cb', 'private-address'],
        ['https://192.168.1.1/cb', 'private-address'],
        ['https://127.0.0.1/cb', 'private-address'],
        ['https://[::1]/cb', 'private-address'],
        ['https://0.0.0.0/cb', 'private-address'],
        ['https://169.254.169.254/latest', 'private-address'],
        ['https://100.64.0.1/cb', 'private-address'],
        ['https://[fc00::1]/cb', 'private-address'],
        ['https://[fe80::1]/cb', 'private-address'],
        ['https://[::ffff:10.0.0.1]/cb', 'private-address'],
        ['https://2130706433/cb', 'private-address'],
        ['https://localhost/cb', 'private-address'],
      ];
      for (const [callbackUrl, rule] of cases) {
        await assert.rejects(
          zapier.client.createActionRun({ ...SAMPLE_RUN, callbackUrl }),
          (error: unknown) =>
            error instanceof ZapierCallbackUrlError &&
            error.rule === rule &&
            error.message.includes(`rule "${rule}"`),
          callbackUrl,
        );
      }
      assert.equal(sandbox.requests.length, 0);
      assert.deepEqual(await readRuns(zapier.dataSource), []);
      // The boundary: exactly 2048 characters and a public IP literal are fine.
      const longest = `https://hooks.example.com/${'a'.repeat(2048 - 'https://hooks.example.com/'.length)}`;
      await zapier.client.createActionRun({ ...SAMPLE_RUN, callbackUrl: longest });
      await zapier.client.createActionRun({ ...SAMPLE_RUN, callbackUrl: 'https://8.8.8.8/cb' });
      assert.equal(creates(sandbox).length, 2);
    });

    it("surfaces a 400 as ZapierApiError with the status and Zapier's errors, recording nothing", async () => {
      const { sandbox, zapier } = await setup();
      sandbox.queueOutcome({ status: 'success', createStatus: 400 });
      await assert.rejects(zapier.client.createActionRun(SAMPLE_RUN), (error: unknown) => {
        assert.ok(error instanceof ZapierApiError);
        assert.equal(error.status, 400);
        assert.equal(error.errors.length, 1);
        assert.equal(error.errors[0].status, 400);
        assert.equal(error.errors[0].code, 'invalid');
        assert.equal(error.errors[0].detail, 'Scripted 400 answer.');
        assert.equal(
          error.message,
          ZapierMessages.apiErrorStatus('POST', '/v2/action-runs/', 400, 'Scripted 400 answer.'),
        );
        return true;
      });
      assert.equal(creates(sandbox).length, 1);
      assert.deepEqual(await readRuns(zapier.dataSource), []);
    });

    it('refuses a created run id with a control character, recording nothing', async () => {
      let proxy: Awaited<ReturnType<typeof startDelayingProxy>> | undefined;
      const { zapier } = await setup({
        zapier: async (sandbox) => {
          proxy = await startDelayingProxy(
            sandbox.url,
            () => 0,
            (method) =>
              method === 'POST'
                ? { status: 200, body: { data: { type: 'run', id: 'arun_\u0000evil\n' } } }
                : undefined,
          );
          cleanups.push(() => proxy?.close());
          return { apiBaseUrl: proxy.url };
        },
      });
      await assert.rejects(zapier.client.createActionRun(SAMPLE_RUN), (error: unknown) => {
        assert.ok(error instanceof ZapierApiError);
        assert.equal(error.status, 200);
        assert.equal(error.message, ZapierMessages.createRunIdMalformed(200, 255));
        return true;
      });
      assert.deepEqual(await readRuns(zapier.dataSource), []);
    });

    it('never retries a create on 503, 504 or a timeout: exactly one POST each', async () => {
      const { sandbox, zapier } = await setup({ zapier: { requestTimeoutMs: 300 } });
      for (const status of [503, 504]) {
        sandbox.queueOutcome({ status: 'success', createStatus: status, createRunsAnyway: true });
        const before = creates(sandbox).length;
        await assert.rejects(
          zapier.client.createActionRun(SAMPLE_RUN),
          (error: unknown) => error instanceof ZapierApiError && error.status === status,
        );
        assert.equal(creates(sandbox).length, before + 1, `POSTs after a ${status}`);
      }
      // The sandbox holds the answer for 1.5 s: the module gives up at 300 ms.
      sandbox.queueOutcome({ status: 'success', callback: 'before-response', delayMs: 1500 });
      const started = Date.now();
      await assert.rejects(
        zapier.client.createActionRun(SAMPLE_RUN),
        (error: unknown) =>
          error instanceof ZapierApiError &&
          error.status === 0 &&
          error.message === ZapierMessages.noResponse('POST', '/v2/action-runs/', 'timed out'),
      );
      assert.ok(Date.now() - started < 1200, 'the timeout applies');
      await sandbox.whenIdle();
      await sleep(200);
      assert.equal(creates(sandbox).length, 3, 'three creates, none retried');
      // The two runs Zapier executed anyway are not recorded by the create; their callbacks
      // still store them (without metadata).
      assert.ok((await readRuns(zapier.dataSource)).every((row) => row.submittedAt === null));
    });

    it('retries a create after a 429 once Retry-After has passed, and records the cooldown', async () => {
      const clock = new TestClock();
      const { sandbox, zapier } = await setup({
        clock,
        sandbox: { rateLimit: { perMinute: 1, cooldownMs: 1500 } },
        // If Retry-After were ignored, the 60 s fallback would time this test out.
        zapier: { polling: { cooldownMs: 60_000 } },
      });
      const first = await zapier.client.createActionRun(SAMPLE_RUN);
      // The first create still counts in Zapier's 60 s window when the second is sent...
      clock.advance(59_000);
      const second = await zapier.client.createActionRun({ ...SAMPLE_RUN, metadata: { n: 2 } });
      const posts = creates(sandbox);
      assert.deepEqual(
        posts.map((post) => post.status),
        [200, 429, 200],
      );
      // ...and Retry-After said 2 s (1.5 s rounded up): the retry waited that long.
      assert.ok(posts[2].at - posts[1].at >= 2000, `retried after ${posts[2].at - posts[1].at} ms`);
      assert.ok(posts[2].at - posts[1].at < 4000);
      assert.equal(sandbox.rateLimited, 1);
      const budget = await readBudget(zapier.dataSource);
      assert.ok(budget && budget.cooldownUntil >= posts[1].at + 2000);
      assert.equal(zapier.logger.find('warn', ZapierMessages.rateLimited(2)).length, 1);
      assert.deepEqual(sandbox.runIds(), [first.id, second.id]);
      assert.deepEqual((await readRun(zapier.dataSource, second.id))?.metadata, { n: 2 });
    });

    it('falls back to polling.cooldownMs after a 429 without Retry-After', async () => {
      const { sandbox, zapier } = await setup({ zapier: { polling: { cooldownMs: 700 } } });
      sandbox.queueOutcome({ status: 'success', createStatus: 429 });
      const { id } = await zapier.client.createActionRun(SAMPLE_RUN);
      const posts = creates(sandbox);
      assert.deepEqual(
        posts.map((post) => post.status),
        [429, 200],
      );
      assert.ok(posts[1].at - posts[0].at >= 700, `retried after ${posts[1].at - posts[0].at} ms`);
      assert.equal((await readRun(zapier.dataSource, id))?.status, 'pending');
    });

    it('cuts a Retry-After in epoch milliseconds to maxCooldownMs, and refuses creates during it at once', async () => {
      const clock = new TestClock();
      const { sandbox, zapier } = await setup({
        clock,
        // Zapier asks for an hour, in epoch ms (read as seconds, that would be 56 000 years).
        sandbox: { rateLimit: { perMinute: 1, cooldownMs: 3_600_000, retryAfter: 'epoch-ms' } },
        zapier: { requestTimeoutMs: 5_000, polling: { maxCooldownMs: 120_000 } },
      });
      await zapier.client.createActionRun(SAMPLE_RUN);
      clock.advance(1_000);
      const before = clock.now();
      const refused = (error: unknown, waitMs: number) => {
        assert.ok(error instanceof ZapierRateLimitedError, String(error));
        assert.ok(error instanceof ZapierApiError);
        assert.equal(error.status, 429);
        assert.ok(
          error.retryAfterMs > waitMs - 2_000 && error.retryAfterMs <= waitMs,
          `retryAfterMs ${error.retryAfterMs}`,
        );
        assert.equal(
          error.message,
          ZapierMessages.rateLimitedCreate('POST', '/v2/action-runs/', error.retryAfterMs, 5_000),
        );
        return true;
      };
      // The 429 starts the cooldown; the retry would wait longer than requestTimeoutMs, so it fails.
      await assert.rejects(zapier.client.createActionRun(SAMPLE_RUN), (error) =>
        refused(error, 120_000),
      );
      const [, limited] = creates(sandbox);
      assert.equal(limited.status, 429);
      assert.equal(creates(sandbox).length, 2);
      const budget = await readBudget(zapier.dataSource);
      assert.ok(budget);
      assert.ok(
        budget.cooldownUntil <= clock.now() + 120_000 && budget.cooldownUntil >= before + 120_000,
        `cooldown_until is ${budget.cooldownUntil - before} ms after the 429`,
      );
      assert.equal(zapier.logger.find('warn', ZapierMessages.cooldownCapped(3600, 120)).length, 1);

      // A create issued during the cooldown: refused at once, nothing sent, no slot taken.
      clock.advance(10_000);
      const started = Date.now();
      await assert.rejects(zapier.client.createActionRun(SAMPLE_RUN), (error) =>
        refused(error, 110_000),
      );
      assert.ok(Date.now() - started < 1_000, `refused after ${Date.now() - started} ms`);
      assert.equal(creates(sandbox).length, 2, 'the sandbox saw no POST');
      assert.deepEqual(await readBudget(zapier.dataSource), budget);
      assert.equal((await readRuns(zapier.dataSource)).length, 1);

      // Once the cut cooldown is over (not Zapier's hour), creates go out again.
      clock.advance(110_000);
      await assert.rejects(
        zapier.client.createActionRun(SAMPLE_RUN),
        (error: unknown) => error instanceof ZapierRateLimitedError,
        "the sandbox's own hour still runs: its next 429 starts another cut cooldown",
      );
      assert.deepEqual(
        creates(sandbox).map((post) => post.status),
        [200, 429, 429],
      );
    });

    it('asks a token function again after a 401 and retries once', async () => {
      const tokens = ['stale-token', 'sandbox-token', 'never-used'];
      let calls = 0;
      const { sandbox, zapier } = await setup({ zapier: { accessToken: () => tokens[calls++] } });
      const { id } = await zapier.client.createActionRun(SAMPLE_RUN);
      assert.deepEqual(
        creates(sandbox).map((post) => post.status),
        [401, 200],
      );
      assert.equal(calls, 2);
      assert.deepEqual(sandbox.runIds(), [id]);
    });

    it('gives up at once on a 401 with a string token or a function that stays wrong', async () => {
      const { sandbox, zapier } = await setup({ zapier: { accessToken: 'revoked-token' } });
      await assert.rejects(
        zapier.client.createActionRun(SAMPLE_RUN),
        (error: unknown) => error instanceof ZapierApiError && error.status === 401,
      );
      assert.equal(creates(sandbox).length, 1);
      assert.deepEqual(sandbox.runIds(), []);
      assert.deepEqual(await readRuns(zapier.dataSource), []);
    });

    it('stops after one refresh when the token function keeps returning a refused token', async () => {
      let calls = 0;
      const { sandbox, zapier } = await setup({
        zapier: {
          accessToken: () => {
            calls++;
            return Promise.resolve('revoked-token');
          },
        },
      });
      await assert.rejects(
        zapier.client.createActionRun(SAMPLE_RUN),
        (error: unknown) => error instanceof ZapierApiError && error.status === 401,
      );
      assert.equal(creates(sandbox).length, 2);
      assert.equal(calls, 2);
    });

    it('reads a run with one GET, leniently', async () => {
      const { sandbox, zapier } = await setup({ sandbox: { pollShape: 'guide' } });
      sandbox.queueOutcome({
        status: 'success',
        results: SAMPLE_RESULTS,
        callback: 'never',
        delayMs: 0,
      });
      sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 60_000 });
      const done = await zapier.client.createActionRun(SAMPLE_RUN);
      const pending = await zapier.client.createActionRun(SAMPLE_RUN);
      await eventually(
        'the first run to complete',
        () => sandbox.run(done.id)?.status === 'success',
      );
      const run = await zapier.client.getActionRun(done.id);
      assert.deepEqual(run, {
        id: done.id,
        status: 'success',
        rawStatus: 'success',
        results: SAMPLE_RESULTS,
        errors: [],
      });
      assert.equal((await zapier.client.getActionRun(pending.id)).status, 'pending');
      await assert.rejects(
        zapier.client.getActionRun('arun_unknown'),
        (error: unknown) => error instanceof ZapierApiError && error.status === 404,
      );
      assert.equal(polls(sandbox).length, 3);
      // Reading does not store anything: only the poller and callbacks complete runs.
      assert.equal((await readRun(zapier.dataSource, done.id))?.status, 'pending');
    });

    it('fails a read whose body exceeds responseBodyLimit with ZapierApiError, storing nothing', async () => {
      const limit = 64 * 1024;
      const { sandbox, zapier } = await setup({ zapier: { responseBodyLimit: limit } });
      sandbox.queueOutcome({
        status: 'success',
        results: [{ blob: 'x'.repeat(2 * limit) }],
        callback: 'never',
        delayMs: 0,
      });
      const { id } = await zapier.client.createActionRun(SAMPLE_RUN);
      await eventually('the run to complete', () => sandbox.run(id)?.status === 'success');
      const path = `/v2/action-runs/${encodeURIComponent(id)}`;
      await assert.rejects(
        zapier.client.getActionRun(id),
        (error: unknown) =>
          error instanceof ZapierApiError &&
          error.status === 200 &&
          error.message === ZapierMessages.apiResponseTooLarge('GET', path, 200, limit),
      );
      assert.equal(polls(sandbox).length, 1);
      const row = await readRun(zapier.dataSource, id);
      assert.equal(row?.status, 'pending');
      assert.equal(row?.results, null);
    });

    it('handles a callback that lands before the create response: terminal, one event with metadata, never polled', async () => {
      const { sandbox, zapier } = await setup({
        zapier: { polling: { intervalMs: 25, overdueAfterMs: 200 } },
      });
      sandbox.queueOutcome({
        status: 'success',
        results: [{ n: 1 }],
        callback: 'before-response',
        delayMs: 0,
      });
      const { id } = await zapier.client.createActionRun({
        ...SAMPLE_RUN,
        metadata: { orderId: 7 },
      });
      const returnedAt = Date.now();
      const [delivery] = sandbox.run(id)?.deliveries ?? [];
      assert.equal(delivery?.status, 200, 'the callback was accepted before the create returned');
      const right = await readRun(zapier.dataSource, id);
      assert.equal(right?.status, 'success', 'not put back to pending by the create');
      assert.equal(right?.pollNextAt, null);
      assert.deepEqual(right?.metadata, { orderId: 7 });

      await zapier.listener.waitFor(1);
      const [heard] = zapier.listener.events;
      assert.equal(heard.name, 'zapier.run.completed');
      assert.equal(heard.event.runId, id);
      assert.deepEqual(heard.event.metadata, { orderId: 7 });
      assert.equal((heard.event as { source: string }).source, 'callback');
      assert.ok(Date.now() - returnedAt < 1000, 'the waiting delivery was released at once');

      // Well past overdueAfterMs, with the poller ticking: nothing polls it, nothing re-emits.
      await sleep(600);
      assert.equal(polls(sandbox, id).length, 0);
      assert.equal(zapier.listener.events.length, 1);
      const row = await readRun(zapier.dataSource, id);
      assert.equal(row?.status, 'success');
      assert.equal(row?.source, 'callback');
      assert.equal(row?.deliveryState, 'delivered');
      assert.equal(row?.action, 'act_1');
      assert.ok(row?.submittedAt !== null);
    });
  },
);
