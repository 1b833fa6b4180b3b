import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { ZapierSandbox } from './zapier-sandbox.js';
import type { ZapierSandboxOptions } from './zapier-sandbox.interfaces.js';

/** How the receiver answers one hit: a status after an optional delay, or never. */
type Answer = { status: number; delayMs?: number } | 'hang';

interface Hit {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  arrivedAt: number;
  answeredAt?: number;
}

interface Receiver {
  url: string;
  hits: Hit[];
  close(): Promise<void>;
}

/** A local callback endpoint answering hit n (0-based) with `script(n)`. */
async function startReceiver(script: (hit: number) => Answer): Promise<Receiver> {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const hit: Hit = {
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        arrivedAt: performance.now(),
      };
      const answer = script(hits.length);
      hits.push(hit);
      if (answer === 'hang') return;
      setTimeout(() => {
        hit.answeredAt = performance.now();
        res.writeHead(answer.status).end();
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/zapier/callback`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const CALLBACK = 'https://app.example.com/hooks/zapier?tenant=7';

async function createRun(sandbox: ZapierSandbox, callbackUrl: string | null = CALLBACK) {
  const response = await fetch(`${sandbox.url}/v2/action-runs/`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${sandbox.accessToken}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      data: { action: 'act', authentication: null, inputs: {}, callback_url: callbackUrl },
    }),
  });
  const json = (await response.json()) as { data: { id: string } };
  return { id: json.data.id, respondedAt: performance.now() };
}

async function scenario(
  script: (hit: number) => Answer,
  options: Omit<ZapierSandboxOptions, 'callbackTarget'>,
  test: (sandbox: ZapierSandbox, receiver: Receiver) => Promise<void>,
): Promise<void> {
  const receiver = await startReceiver(script);
  const sandbox = await ZapierSandbox.start({
    rateLimit: false,
    callbackTarget: receiver.url,
    ...options,
  });
  try {
    await test(sandbox, receiver);
  } finally {
    await sandbox.stop();
    await receiver.close();
  }
}

const ok = (): Answer => ({ status: 200 });

void describe('ZapierSandbox callbacks', () => {
  void it('POSTs the run to callbackTarget with a token plain jose verifies', async () => {
    await scenario(ok, {}, async (sandbox, receiver) => {
      const { id } = await createRun(sandbox);
      await sandbox.whenIdle();
      assert.equal(receiver.hits.length, 1);
      const [hit] = receiver.hits;
      assert.equal(hit?.url, '/zapier/callback?tenant=7', 'the callback URL query is kept');
      assert.equal(hit?.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(hit?.body ?? ''), {
        data: { type: 'run', id, status: 'success', results: [{ ok: true }], errors: [] },
      });
      const token = hit?.headers['zapier-callback-signature'];
      assert.equal(typeof token, 'string');
      const jwks = createRemoteJWKSet(new URL(sandbox.jwksUrl));
      const { payload, protectedHeader } = await jwtVerify(token as string, jwks, {
        requiredClaims: ['exp', 'iat'],
        algorithms: ['RS256'],
      });
      assert.equal(protectedHeader.kid, sandbox.signer.kid);
      assert.equal(payload.exp! - payload.iat!, 300);
      assert.ok(Math.abs(payload.iat! - Date.now() / 1000) < 5);
      assert.deepEqual(
        sandbox.deliveries.map(({ runId, attempt, status }) => ({ runId, attempt, status })),
        [{ runId: id, attempt: 1, status: 200 }],
      );
      assert.equal(sandbox.run(id)?.deliveries.length, 1);
    });
  });

  void it('signs with the sandbox clock', async () => {
    const clock = Date.UTC(2030, 5, 1);
    await scenario(ok, { now: () => clock }, async (sandbox, receiver) => {
      await createRun(sandbox);
      await sandbox.whenIdle();
      const token = receiver.hits[0]?.headers['zapier-callback-signature'] as string;
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(sandbox.jwksUrl)), {
        currentDate: new Date(clock),
      });
      assert.equal(payload.iat, clock / 1000);
      assert.equal(sandbox.deliveries[0]?.startedAt, clock);
    });
  });

  void it('sends nothing for a run created without callback_url', async () => {
    await scenario(ok, {}, async (sandbox, receiver) => {
      const { id } = await createRun(sandbox, null);
      await sandbox.whenIdle();
      assert.equal(sandbox.run(id)?.status, 'success');
      assert.equal(receiver.hits.length, 0);
    });
  });

  void it('retries 503 and 500, then stops at the 200, with 250/500 ms backoff', async () => {
    const script = (hit: number): Answer => ({ status: [503, 500, 200][hit] ?? 599 });
    await scenario(script, {}, async (sandbox, receiver) => {
      const { id } = await createRun(sandbox);
      await sandbox.whenIdle();
      assert.deepEqual(
        sandbox.deliveries.map(({ attempt, status }) => [attempt, status]),
        [
          [1, 503],
          [2, 500],
          [3, 200],
        ],
      );
      assert.equal(receiver.hits.length, 3);
      const [first, second, third] = receiver.hits.map((hit) => hit.arrivedAt);
      const gaps = [second - first, third - second];
      assert.ok(gaps[0] >= 245 && gaps[0] < 450, `first gap ${gaps[0]} ms`);
      assert.ok(gaps[1] >= 495 && gaps[1] < 750, `second gap ${gaps[1]} ms`);
      assert.equal(sandbox.run(id)?.deliveries.length, 3);
    });
  });

  void it('gives up after 3 attempts of 5xx', async () => {
    await scenario(
      () => ({ status: 502 }),
      { retryBaseDelayMs: 5 },
      async (sandbox, receiver) => {
        await createRun(sandbox);
        await sandbox.whenIdle();
        await sleep(50);
        assert.equal(receiver.hits.length, 3);
        assert.deepEqual(
          sandbox.deliveries.map((delivery) => delivery.status),
          [502, 502, 502],
        );
      },
    );
  });

  for (const status of [400, 401, 410, 429]) {
    void it(`does not retry a ${status}`, async () => {
      await scenario(
        () => ({ status }),
        { retryBaseDelayMs: 5 },
        async (sandbox, receiver) => {
          await createRun(sandbox);
          await sandbox.whenIdle();
          await sleep(30);
          assert.equal(receiver.hits.length, 1);
          assert.equal(sandbox.deliveries[0]?.status, status);
        },
      );
    });
  }

  void it('counts a 3xx as a failure without retry', async () => {
    await scenario(
      () => ({ status: 302 }),
      { retryBaseDelayMs: 5 },
      async (sandbox, receiver) => {
        await createRun(sandbox);
        await sandbox.whenIdle();
        await sleep(30);
        assert.equal(receiver.hits.length, 1);
      },
    );
  });

  void it('retries a network error (receiver closed) up to 3 attempts', async () => {
    const closed = await startReceiver(ok);
    await closed.close();
    const sandbox = await ZapierSandbox.start({ callbackTarget: closed.url, retryBaseDelayMs: 5 });
    try {
      await createRun(sandbox);
      await sandbox.whenIdle();
      assert.equal(sandbox.deliveries.length, 3);
      for (const delivery of sandbox.deliveries) {
        assert.equal(delivery.status, undefined);
        assert.match(delivery.error ?? '', /ECONNREFUSED/);
      }
    } finally {
      await sandbox.stop();
    }
  });

  void it('retries an attempt that times out', async () => {
    const options = { deliveryTimeoutMs: 100, retryBaseDelayMs: 5 };
    await scenario(
      () => 'hang',
      options,
      async (sandbox, receiver) => {
        await createRun(sandbox);
        await sandbox.whenIdle();
        assert.equal(receiver.hits.length, 3);
        assert.deepEqual(
          sandbox.deliveries.map((delivery) => delivery.error),
          Array(3).fill('no answer within 100 ms'),
        );
      },
    );
  });

  void it("'twice' delivers two identical callbacks concurrently", async () => {
    await scenario(
      () => ({ status: 200, delayMs: 100 }),
      {},
      async (sandbox, receiver) => {
        sandbox.queueOutcome({ status: 'success', callback: 'twice' });
        await createRun(sandbox);
        await sandbox.whenIdle();
        assert.equal(receiver.hits.length, 2);
        const [a, b] = receiver.hits;
        assert.equal(a?.body, b?.body);
        assert.equal(
          a?.headers['zapier-callback-signature'],
          b?.headers['zapier-callback-signature'],
        );
        assert.ok(b.arrivedAt < a.answeredAt!, 'the second arrived before the first was answered');
      },
    );
  });

  void it("'never' completes the run without calling back", async () => {
    await scenario(ok, {}, async (sandbox, receiver) => {
      sandbox.queueOutcome({ status: 'error', callback: 'never' });
      const { id } = await createRun(sandbox);
      await sandbox.whenIdle();
      await sleep(30);
      assert.equal(receiver.hits.length, 0);
      assert.equal(sandbox.deliveries.length, 0);
      assert.equal(sandbox.run(id)?.status, 'error');
      assert.notEqual(sandbox.run(id)?.completedAt, null);
    });
  });

  void it("'before-response' answers the create only after the callback was answered", async () => {
    await scenario(
      () => ({ status: 200, delayMs: 150 }),
      {},
      async (sandbox, receiver) => {
        sandbox.queueOutcome({ status: 'success', callback: 'before-response' });
        const { id, respondedAt } = await createRun(sandbox);
        const [hit] = receiver.hits;
        assert.ok(hit?.answeredAt !== undefined, 'the callback was answered');
        assert.ok(respondedAt > hit.answeredAt, 'the create response came after');
        assert.equal((JSON.parse(hit.body) as { data: { id: string } }).data.id, id);
      },
    );
  });

  void it('maps the callback URL through a callbackTarget function', async () => {
    const receiver = await startReceiver(ok);
    const seen: string[] = [];
    const sandbox = await ZapierSandbox.start({
      callbackTarget: (url) => {
        seen.push(url);
        return `${receiver.url}?mapped=1`;
      },
    });
    try {
      await createRun(sandbox);
      await sandbox.whenIdle();
      assert.deepEqual(seen, [CALLBACK]);
      assert.equal(receiver.hits[0]?.url, '/zapier/callback?mapped=1');
    } finally {
      await sandbox.stop();
      await receiver.close();
    }
  });

  void it('stop() cancels a pending retry and resolves promptly', async () => {
    const options = { retryBaseDelayMs: 10_000 };
    await scenario(
      () => ({ status: 503 }),
      options,
      async (sandbox, receiver) => {
        await createRun(sandbox);
        while (receiver.hits.length === 0) await sleep(5);
        const started = performance.now();
        await sandbox.stop();
        assert.ok(performance.now() - started < 1000, 'stop did not wait for the backoff');
        await sandbox.whenIdle();
        assert.equal(receiver.hits.length, 1);
      },
    );
  });
});

void describe('ZapierSandbox.deliverCallback', () => {
  let receiver: Receiver;
  let sandbox: ZapierSandbox;
  before(async () => {
    receiver = await startReceiver((hit) => ({ status: hit === 0 ? 500 : 204 }));
    sandbox = await ZapierSandbox.start({ retryBaseDelayMs: 5 });
  });
  after(async () => {
    await sandbox.stop();
    await receiver.close();
  });

  void it('delivers any payload, signed, with the same retry rules', async () => {
    const attempts = await sandbox.deliverCallback(
      `${receiver.url}?instance=b`,
      { id: 'arun_elsewhere', status: 'error', errors: [] },
      { claims: { iss: 'zapier' } },
    );
    assert.deepEqual(
      attempts.map(({ attempt, status }) => [attempt, status]),
      [
        [1, 500],
        [2, 204],
      ],
    );
    assert.equal(receiver.hits[1]?.url, '/zapier/callback?instance=b');
    assert.deepEqual(JSON.parse(receiver.hits[1]?.body ?? ''), {
      data: { type: 'run', id: 'arun_elsewhere', status: 'error', results: [], errors: [] },
    });
    const token = receiver.hits[1]?.headers['zapier-callback-signature'] as string;
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(sandbox.jwksUrl)), {
      issuer: 'zapier',
    });
    assert.equal(payload.iss, 'zapier');
    assert.equal(sandbox.deliveries.length, 2);
  });
});
