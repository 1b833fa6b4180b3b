import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, constants } from 'node:zlib';
import { ZapierMessages } from '../zapier.messages.js';
import { CallbackMemoryBudget } from './callback-memory-budget.js';
import { readCallbackBody, type CallbackBodyRead } from './read-callback-body.js';

const LIMITS = { maxBytes: 64 * 1024, shape: { maxDepth: 8, maxValues: 1000 } };
const HEADERS = { 'content-type': 'application/json', 'content-length': '1000' };

describe('readCallbackBody', () => {
  let server: Server;
  let port: number;
  /** Called with each request the server receives. */
  let onRequest: (request: IncomingMessage) => void = () => undefined;

  before(async () => {
    server = createServer((req) => onRequest(req));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Sends the headers and `firstBytes` of a 1000-byte body, then leaves. */
  function leaveMidBody(firstBytes: string): void {
    const req = request({ host: '127.0.0.1', port, method: 'POST', headers: HEADERS });
    req.on('error', () => undefined);
    req.write(firstBytes, () => setTimeout(() => req.destroy(), 50));
  }

  it(
    'settles at once for a client that left before the body was read (while its signature was checked)',
    { timeout: 3000 },
    async () => {
      const read = new Promise<CallbackBodyRead>((resolve) => {
        onRequest = (req) => {
          // Start reading only once the request has closed: its `close` has been and gone.
          req.once('close', () => {
            setImmediate(() => {
              const memory = new CallbackMemoryBudget(1024 * 1024);
              resolve(readCallbackBody(req, req.headers, LIMITS, memory.open()));
            });
          });
        };
      });
      leaveMidBody('{"id":"run-');
      const result = await read;
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.status, 400);
      assert.equal(!result.ok && result.reason, ZapierMessages.bodyAborted());
    },
  );

  /** Sends `body` whole with `headers` and reads it with the limits above. */
  async function readSent(
    headers: Record<string, string>,
    body: Buffer,
  ): Promise<CallbackBodyRead> {
    const read = new Promise<CallbackBodyRead>((resolve) => {
      onRequest = (req) => {
        const memory = new CallbackMemoryBudget(64 * 1024 * 1024);
        resolve(readCallbackBody(req, req.headers, LIMITS, memory.open()));
      };
    });
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      headers: { ...headers, 'content-length': String(body.length) },
    });
    req.on('error', () => undefined);
    req.end(body);
    const result = await read;
    req.destroy();
    return result;
  }

  it('refuses a brotli body declaring a window larger than 4 MiB before decoding it (413)', async () => {
    const json = Buffer.from(JSON.stringify({ data: { id: 'run-1', results: [] } }));
    const brotli = (bits: number) =>
      brotliCompressSync(json, {
        params: {
          [constants.BROTLI_PARAM_LGWIN]: bits,
          // As a bomb declares: an input far larger than the window.
          [constants.BROTLI_PARAM_SIZE_HINT]: 1 << 30,
        },
      });
    const headers = { 'content-type': 'application/json', 'content-encoding': 'br' };
    const wide = await readSent(headers, brotli(24));
    assert.equal(!wide.ok && wide.status, 413);
    assert.equal(!wide.ok && wide.reason, ZapierMessages.bodyBrotliWindow(24, 22));
    const usual = await readSent(headers, brotli(22));
    assert.ok(usual.ok, 'the default window is read');
    assert.deepEqual(usual.ok && JSON.parse(usual.body.toString('utf8')), JSON.parse(String(json)));
  });

  it('keeps what was read of a body the client abandoned', async () => {
    const read = new Promise<CallbackBodyRead>((resolve) => {
      onRequest = (req) => {
        const memory = new CallbackMemoryBudget(1024 * 1024);
        resolve(readCallbackBody(req, req.headers, LIMITS, memory.open()));
      };
    });
    leaveMidBody('{"id":"run-');
    const result = await read;
    assert.equal(!result.ok && result.status, 400);
    assert.equal(!result.ok && result.partial.toString('utf8'), '{"id":"run-');
  });
});
