import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { ZapierSandbox } from './zapier-sandbox.js';
import type { SandboxDelivery, SandboxRequestRecord } from './zapier-sandbox.interfaces.js';

describe('the sandbox route POST /sandbox/callbacks, its port and its hooks', () => {
  const hits: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      hits.push({ headers: req.headers, body });
      res.writeHead(hits.length === 1 ? 503 : 200).end();
    });
  });
  let receiverUrl = '';
  let sandbox: ZapierSandbox;
  const requests: SandboxRequestRecord[] = [];
  const deliveries: SandboxDelivery[] = [];

  before(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    // A port chosen by the test: the sandbox listens on it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    sandbox = await ZapierSandbox.start({
      port,
      retryBaseDelayMs: 10,
      onRequest: (request) => requests.push(request),
      onDelivery: (delivery) => deliveries.push(delivery),
    });
    assert.equal(sandbox.url, `http://127.0.0.1:${port}`);
  });
  after(async () => {
    await sandbox.stop();
    await new Promise((resolve) => receiver.close(resolve));
  });

  const command = (body: unknown, token = 'sandbox-token') =>
    fetch(`${sandbox.url}/sandbox/callbacks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  it('signs the callback with its key, delivers it with retries and answers the attempts', async () => {
    const answer = await command({
      url: receiverUrl,
      callback: { id: 'arun_c1', status: 'success', results: [{ n: 1 }] },
    });
    assert.equal(answer.status, 200);
    const { deliveries: attempts } = (await answer.json()) as { deliveries: SandboxDelivery[] };
    assert.deepEqual(
      attempts.map(({ attempt, status, url }) => [attempt, status, url]),
      [
        [1, 503, receiverUrl],
        [2, 200, receiverUrl],
      ],
    );
    assert.deepEqual(JSON.parse(hits[1].body), {
      data: { type: 'run', id: 'arun_c1', status: 'success', results: [{ n: 1 }], errors: [] },
    });
    const token = hits[1].headers['zapier-callback-signature'] as string;
    await jwtVerify(token, createLocalJWKSet(sandbox.signer.jwks()));
    assert.deepEqual(deliveries, attempts, 'onDelivery saw every attempt');
    assert.deepEqual(requests, [], 'its own route is not an API request');
  });

  it('answers 401 without its token and 400, naming the field, for a bad command', async () => {
    assert.equal((await command({ url: receiverUrl }, 'wrong')).status, 401);
    const cases: Array<[unknown, string]> = [
      [{ url: 'ftp://x', callback: { id: 'a', status: 'success' } }, '/url'],
      [{ url: receiverUrl }, '/callback'],
      [{ url: receiverUrl, callback: { id: '', status: 'success' } }, '/callback/id'],
      [{ url: receiverUrl, callback: { id: 'a', status: 'running' } }, '/callback/status'],
      [
        { url: receiverUrl, callback: { id: 'a', status: 'success', results: 3 } },
        '/callback/results',
      ],
      [
        { url: receiverUrl, callback: { id: 'a', status: 'error', errors: [1] } },
        '/callback/errors',
      ],
    ];
    for (const [body, pointer] of cases) {
      const answer = await command(body);
      assert.equal(answer.status, 400, pointer);
      const { errors } = (await answer.json()) as {
        errors: Array<{ source: { pointer: string } }>;
      };
      assert.equal(errors[0].source.pointer, pointer);
    }
    assert.equal(hits.length, 2, 'nothing was delivered');
  });

  it('tells onRequest about API requests, with the run id created or polled', async () => {
    const created = await fetch(`${sandbox.url}/v2/action-runs/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sandbox-token' },
      body: JSON.stringify({ data: { action: 'a', authentication: null, inputs: {} } }),
    });
    const { data } = (await created.json()) as { data: { id: string } };
    await fetch(`${sandbox.url}/v2/action-runs/${data.id}`, {
      headers: { authorization: 'Bearer sandbox-token' },
    });
    assert.deepEqual(
      requests.map(({ method, status, runId }) => [method, status, runId]),
      [
        ['POST', 200, data.id],
        ['GET', 200, data.id],
      ],
    );
  });
});
