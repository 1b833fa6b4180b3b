import assert from 'node:assert/strict';
import {
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { brotliCompressSync, deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { ZapierMessages } from '../zapier.messages.js';
import { ZAPIER_SIGNATURE_HEADER } from '../zapier.constants.js';
import { resolveZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierSignatureVerifier } from '../signature/zapier-signature.verifier.js';
import { ZapierSandbox } from '../testing/index.js';
import type { CallbackRequestExtras } from './callback-request.js';
import { expressCallbackBodyReader } from './express-callback-body.reader.js';
import { ZapierCallbackGate } from './zapier-callback-gate.js';
import { ZapierCallbackService } from './zapier-callback.service.js';
import type { DataSource } from 'typeorm';
import { migratedDataSource } from '../../test/support/data-sources.js';
import { lifecycleOver } from '../../test/support/lifecycle.js';
import { ZapierClaimedDeliveries } from '../storage/claimed-deliveries.js';
import { ZapierInvalidCallbackException } from '../errors/zapier-http.exceptions.js';

const LIMIT = 64 * 1024;
/** Room for one callback at the limit and a little more. */
const MEMORY_LIMIT = LIMIT + 16 * 1024;
const CALLBACK_PATH = '/zapier/callback';
/** For tests whose body never completes: a reader that waited for it would hang. */
const FAIL_FAST = { timeout: 5000 };

/** What the next middleware (the route, here) finds on the request. */
interface Seen {
  nextError: unknown;
  body: unknown;
  rawBody: string | undefined;
  bodyError: string | undefined;
  /** What was still left in the request stream for the next middleware to read. */
  unread: string;
}

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

interface SendOptions {
  method?: string;
  path?: string;
  headers?: OutgoingHttpHeaders;
  /** Sent as one write, or one write per chunk (chunked transfer unless a length is given). */
  body?: string | Buffer | Buffer[];
}

type ReaderRequest = IncomingMessage & CallbackRequestExtras & { body?: unknown };

function readAll(stream: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/**
 * A plain node server whose only middleware is the reader (behind a real gate verifying against
 * the sandbox's JWKS), followed by a route echoing `Seen`.
 */
function readerServer(gate: () => ZapierCallbackGate) {
  const seen: Seen[] = [];
  const arrivals: Array<() => void> = [];
  const nextCalls: Array<() => void> = [];
  let reader: ReturnType<typeof expressCallbackBodyReader> | undefined;
  const server: Server = createServer((req: ReaderRequest, res) => {
    arrivals.shift()?.();
    reader ??= expressCallbackBodyReader((path) => path.split('?', 1)[0] === CALLBACK_PATH, gate());
    reader(req, res, (nextError?: unknown) => {
      const entry: Seen = {
        nextError,
        body: req.body,
        rawBody: req.zapierRawBody,
        bodyError: req.zapierBodyError,
        unread: '',
      };
      seen.push(entry);
      nextCalls.shift()?.();
      const respond = () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(entry));
      };
      if (req.readableEnded || req.destroyed) {
        respond();
        return;
      }
      readAll(req).then((text) => {
        entry.unread = text;
        respond();
      }, respond);
    });
  });
  return {
    server,
    seen,
    /** Resolves when the next request reaches the server (its headers are parsed). */
    nextArrival: () => new Promise<void>((resolve) => arrivals.push(resolve)),
    /** Resolves when the reader next hands over to the next middleware. */
    nextHandOver: () => new Promise<void>((resolve) => nextCalls.push(resolve)),
  };
}

describe('expressCallbackBodyReader', () => {
  let sandbox: ZapierSandbox;
  let gate: ZapierCallbackGate;
  let signature: string;
  let dataSource: DataSource;
  let closeDatabase: () => Promise<void>;
  const quarantined = async () => {
    const kept: Array<{ reason: string; raw_body: string }> = await dataSource.query(
      'SELECT reason, raw_body FROM zapier_callback_quarantine',
    );
    return kept.map((row) => [row.reason, row.raw_body]);
  };
  const reader = readerServer(() => gate);
  let port: number;

  function send(options: SendOptions = {}): Promise<Response> {
    const { method = 'POST', path = CALLBACK_PATH, body } = options;
    const headers = { [ZAPIER_SIGNATURE_HEADER]: signature, ...options.headers };
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        answered = true;
        readAll(res).then(
          (text) => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }),
          reject,
        );
      });
      // After a 413 with `connection: close` the server may close while chunks are still
      // being written; the answer is what counts.
      req.on('error', (error) => {
        if (!answered) reject(error);
      });
      for (const chunk of Array.isArray(body) ? body : body === undefined ? [] : [body]) {
        req.write(chunk);
      }
      req.end();
    });
  }

  /** Sends and returns what the route saw, failing if the reader answered instead. */
  async function routeSees(options: SendOptions): Promise<Seen> {
    const response = await send(options);
    assert.equal(response.status, 200, `the reader answered itself: ${response.text}`);
    return JSON.parse(response.text) as Seen;
  }

  const json = (type = 'application/json') => ({ 'content-type': type });
  const eventuallyQuarantined = async (reason: string) => {
    for (let i = 0; i < 200; i++) {
      if ((await quarantined()).some(([kept]) => kept === reason)) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.fail(`nothing quarantined for ${reason}`);
  };

  before(async () => {
    sandbox = await ZapierSandbox.start({ rateLimit: false });
    const options = resolveZapierOptions({
      jwksUrl: sandbox.jwksUrl,
      callbackBodyLimit: LIMIT,
      callbackMemoryLimit: MEMORY_LIMIT,
      resultLimits: { maxDepth: 8, maxValues: 1000 },
    });
    const clock = { now: () => Date.now() };
    ({ dataSource, close: closeDatabase } = await migratedDataSource('sqlite', 'reader_spec'));
    const callbacks = new ZapierCallbackService(
      lifecycleOver(dataSource, options, clock, new ZapierClaimedDeliveries()),
      clock,
      options,
    );
    gate = new ZapierCallbackGate(options, new ZapierSignatureVerifier(options, clock), callbacks);
    signature = await sandbox.signer.sign();
    await new Promise<void>((resolve) => reader.server.listen(0, '127.0.0.1', resolve));
    port = (reader.server.address() as AddressInfo).port;
  });
  after(async () => {
    reader.server.closeAllConnections();
    await new Promise((resolve) => reader.server.close(resolve));
    await sandbox.stop();
    await closeDatabase();
  });
  beforeEach(async () => {
    reader.seen.length = 0;
    await dataSource.query('DELETE FROM zapier_callback_quarantine');
  });

  /** What the reader answers itself for a body it stopped reading: 400, after quarantine. */
  const invalid = (reason: string) =>
    new ZapierInvalidCallbackException([reason]).getResponse() as Record<string, unknown>;

  it('parses a JSON callback, keeps the text as received, and hands over to the route', async () => {
    const text = '{ "id": "run-1",  "status": "success", "data": { "ok": true } }';
    const seen = await routeSees({ headers: json('application/json; charset=utf-8'), body: text });
    assert.deepEqual(seen, {
      body: { id: 'run-1', status: 'success', data: { ok: true } },
      rawBody: text,
      unread: '',
    });
    assert.equal(reader.seen.length, 1);
    assert.equal(reader.seen[0]?.nextError, undefined);
  });

  it('accepts a body of exactly the limit and JSON media types ending in +json', async () => {
    const prefix = '{"pad":"';
    const text = `${prefix}${'x'.repeat(LIMIT - prefix.length - 2)}"}`;
    assert.equal(Buffer.byteLength(text), LIMIT);
    const seen = await routeSees({ headers: json('application/vnd.zapier+json'), body: text });
    assert.equal(seen.bodyError, undefined);
    assert.equal((seen.body as { pad: string }).pad.length, LIMIT - prefix.length - 2);
  });

  it('decodes multi-byte UTF-8 split across chunks', async () => {
    const bytes = Buffer.from('{"name":"Zoë 😀 naïve"}');
    const split = bytes.indexOf(0xf0) + 2; // inside the emoji's four bytes
    const seen = await routeSees({
      headers: json(),
      body: [bytes.subarray(0, split), bytes.subarray(split)],
    });
    assert.deepEqual(seen.body, { name: 'Zoë 😀 naïve' });
    assert.equal(seen.rawBody, '{"name":"Zoë 😀 naïve"}');
  });

  for (const [encoding, encode] of [
    ['gzip', gzipSync],
    ['x-gzip', gzipSync],
    ['GZIP', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const) {
    it(`decodes a ${encoding} body and keeps the decoded text`, async () => {
      const text = JSON.stringify({ id: 'run-2', data: { rows: Array(500).fill('row') } });
      const seen = await routeSees({
        headers: { ...json(), 'content-encoding': encoding },
        body: encode(Buffer.from(text)),
      });
      assert.equal(seen.bodyError, undefined);
      assert.equal(seen.rawBody, text);
      assert.deepEqual(seen.body, JSON.parse(text));
    });
  }

  it('answers 413 to a declared length over the limit, before the body', FAIL_FAST, async () => {
    const declared = 10 * 1024 * 1024;
    const response = await new Promise<Response>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: CALLBACK_PATH,
          headers: { ...json(), 'content-length': declared, [ZAPIER_SIGNATURE_HEADER]: signature },
        },
        (res) => {
          readAll(res).then((text) => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
            req.destroy();
          }, reject);
        },
      );
      req.on('error', () => undefined);
      // Only the first kilobyte is ever sent: the answer cannot wait for the rest.
      req.write(Buffer.alloc(1024, 'a'));
    });
    assert.equal(response.status, 413);
    assert.equal(response.headers.connection, 'close');
    assert.match(response.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(response.text), {
      statusCode: 413,
      error: 'Payload Too Large',
      message: ZapierMessages.callbackBodyTooLarge(declared, LIMIT),
    });
    assert.deepEqual(reader.seen, [], 'the route never runs');
  });

  it('refuses a chunked body with no length once it grows past the limit', async () => {
    const chunk = Buffer.alloc(16 * 1024, 'a');
    const response = await send({ headers: json(), body: Array<Buffer>(12).fill(chunk) });
    assert.equal(response.status, 413);
    assert.equal(response.headers.connection, 'close');
    const { message } = JSON.parse(response.text) as { message: string };
    const bytes = Number(/of (\d+) bytes/.exec(message)?.[1]);
    assert.ok(bytes > LIMIT && bytes <= LIMIT + chunk.length, `counted ${bytes} bytes`);
    assert.equal(message, ZapierMessages.callbackBodyTooLarge(bytes, LIMIT));
    assert.deepEqual(reader.seen, []);
  });

  it('counts decoded bytes: a small gzip body that inflates past the limit gets a 413', async () => {
    const compressed = gzipSync(Buffer.alloc(LIMIT * 8, ' '));
    assert.ok(compressed.length < LIMIT / 10);
    const response = await send({
      headers: { ...json(), 'content-encoding': 'gzip', 'content-length': compressed.length },
      body: compressed,
    });
    assert.equal(response.status, 413);
    assert.deepEqual(reader.seen, []);
  });

  it('answers an unsupported content encoding 400 itself, without reading the body, and closes', async () => {
    const response = await send({
      headers: { ...json(), 'content-encoding': 'compress' },
      body: '{"id":"run-3"}',
    });
    assert.equal(response.status, 400);
    assert.equal(response.headers.connection, 'close');
    assert.deepEqual(JSON.parse(response.text), invalid(ZapierMessages.bodyEncoding('compress')));
    assert.deepEqual(reader.seen, [], 'the route never runs');
    assert.deepEqual(await quarantined(), [[ZapierMessages.bodyEncoding('compress'), '']]);
  });

  it('answers a body that fails to decode 400 itself, after quarantine', async () => {
    const body = '{"id":"not gzip at all"}';
    const response = await send({ headers: { ...json(), 'content-encoding': 'gzip' }, body });
    const reason = ZapierMessages.bodyUnreadable(errorOf(() => gunzipSync(body)));
    assert.equal(response.status, 400);
    assert.deepEqual(JSON.parse(response.text), invalid(reason));
    assert.deepEqual(reader.seen, []);
    assert.deepEqual(await quarantined(), [[reason, '']]);
  });

  it('stops reading JSON nested past the limit and quarantines what it read', async () => {
    const body = `{"id":"run-deep","data":${'['.repeat(2000)}${']'.repeat(2000)}}`;
    const response = await send({ headers: json(), body });
    assert.equal(response.status, 400);
    assert.deepEqual(JSON.parse(response.text), invalid(ZapierMessages.bodyTooDeep(10)));
    const [[reason, raw] = []] = await quarantined();
    assert.equal(reason, ZapierMessages.bodyTooDeep(10));
    assert.ok(body.startsWith(raw ?? '-'), 'what was read, as received');
  });

  it('answers 401 to an unsigned body without reading it', async () => {
    const response = await send({
      headers: { ...json(), [ZAPIER_SIGNATURE_HEADER]: '' },
      body: '{"id":"run-x"}',
    });
    assert.equal(response.status, 401);
    assert.equal(response.headers.connection, 'close');
    assert.deepEqual(reader.seen, []);
  });

  it('never hands over when the client leaves mid-body', FAIL_FAST, async () => {
    const arrived = reader.nextArrival();
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: CALLBACK_PATH,
      headers: { ...json(), 'content-length': 1000, [ZAPIER_SIGNATURE_HEADER]: signature },
    });
    req.on('error', () => undefined);
    req.write('{"id":"run-');
    await arrived;
    req.destroy();
    // What was read is kept (it was signed); the route is never reached.
    await eventuallyQuarantined(ZapierMessages.bodyAborted());
    assert.deepEqual(reader.seen, []);
  });

  it('records invalid JSON instead of answering, so the route (and its guard) still runs', async () => {
    const seen = await routeSees({ headers: json(), body: '{"id": "run-4",' });
    assert.equal(seen.body, undefined);
    assert.equal(seen.rawBody, '{"id": "run-4",');
    assert.equal(
      seen.bodyError,
      ZapierMessages.bodyInvalidJson(errorOf(() => JSON.parse('{"id": "run-4",'))),
    );
  });

  it('records a content type that is not JSON, keeping the text', async () => {
    const plain = await routeSees({ headers: json('text/plain'), body: 'id=run-5' });
    assert.deepEqual(plain, {
      rawBody: 'id=run-5',
      bodyError: ZapierMessages.bodyNotJsonType('text/plain'),
      unread: '',
    });
    const none = await routeSees({ body: '{"id":"run-5"}' });
    assert.equal(none.body, undefined);
    assert.equal(none.bodyError, ZapierMessages.bodyNotJsonType('(none)'));
  });

  it('records a charset other than UTF-8, and accepts UTF-8 however it is spelled', async () => {
    const latin = await routeSees({
      headers: json('application/json; charset=ISO-8859-1'),
      body: '{"id":"run-6"}',
    });
    assert.equal(latin.body, undefined);
    assert.equal(latin.bodyError, ZapierMessages.bodyCharset('iso-8859-1'));
    for (const charset of ['UTF-8', 'utf8']) {
      const utf8 = await routeSees({
        headers: json(`application/json; charset=${charset}`),
        body: '{"id":"run-6"}',
      });
      assert.deepEqual(utf8.body, { id: 'run-6' }, charset);
    }
  });

  it('leaves other methods and other paths untouched for the next middleware', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(LIMIT * 2) });
    const otherPath = await routeSees({ path: '/orders', headers: json(), body: big });
    assert.deepEqual(otherPath, { unread: big });
    const put = await routeSees({ method: 'PUT', headers: json(), body: '{"id":"run-7"}' });
    assert.deepEqual(put, { unread: '{"id":"run-7"}' });
    const get = await routeSees({ method: 'GET' });
    assert.deepEqual(get, { unread: '' });
  });
});

/** The message `fn` throws: node's own wording, which the reader passes on. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}
