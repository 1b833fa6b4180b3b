import assert from 'node:assert/strict';
import {
  createServer,
  request,
  type IncomingMessage,
  type RequestListener,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { fastify, type FastifyInstance } from 'fastify';
import { TestLogger } from '../../test/support/test-logger.js';
import { resolveZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierSignatureVerifier } from '../signature/zapier-signature.verifier.js';
import type { DataSource } from 'typeorm';
import { migratedDataSource } from '../../test/support/data-sources.js';
import { ZapierClaimedDeliveries } from '../storage/claimed-deliveries.js';
import { ZapierSandbox } from '../testing/index.js';
import { ZAPIER_SIGNATURE_HEADER } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { CallbackRequestExtras } from './callback-request.js';
import { ZapierCallbackBodyInstaller } from './zapier-callback-body.installer.js';
import { ZapierCallbackGate } from './zapier-callback-gate.js';
import { ZapierCallbackService } from './zapier-callback.service.js';
import { lifecycleOver } from '../../test/support/lifecycle.js';

const NOW = Date.UTC(2026, 0, 15, 12);
const MiB = 1024 * 1024;
const LIMIT = 64 * 1024;
const clock = { now: () => NOW };

interface Quarantined {
  runId: string | null;
  reason: string;
  rawBody: string;
  receivedAt: number;
}

/** What a route sees: the parsed body and the text the module kept. */
interface Seen {
  body?: unknown;
  rawBody?: string;
}

const jsonOf = (size: number) => JSON.stringify({ id: 'run-1', pad: 'x'.repeat(size) });

describe('ZapierCallbackBodyInstaller', () => {
  const logger = new TestLogger();
  let dataSource: DataSource;
  let closeDatabase: () => Promise<void>;
  /** The quarantine table, oldest first. */
  const quarantined = async (): Promise<Quarantined[]> =>
    (
      await dataSource.query<Array<Record<string, unknown>>>(
        'SELECT run_id, reason, raw_body, received_at FROM zapier_callback_quarantine ORDER BY id',
      )
    ).map((row) => ({
      runId: (row.run_id as string | null) ?? null,
      reason: String(row.reason),
      rawBody: String(row.raw_body),
      receivedAt: Number(row.received_at),
    }));
  let sandbox: ZapierSandbox;
  let callbacks: ZapierCallbackService;
  let signature: string;

  /**
   * Attaches an adapter to a host the installer watches, as Nest does when the app is created
   * (before its body parsers and routes are registered).
   */
  function install<T extends ExpressAdapter | FastifyAdapter>(
    adapter: T,
    path: string,
    callbackBodyLimit?: number,
  ): T {
    const host = new HttpAdapterHost();
    const options = resolveZapierOptions({
      jwksUrl: sandbox.jwksUrl,
      ...(callbackBodyLimit === undefined ? {} : { callbackBodyLimit }),
    });
    const verifier = new ZapierSignatureVerifier(options, clock);
    const gate = new ZapierCallbackGate(options, verifier, callbacks);
    new ZapierCallbackBodyInstaller(host, options, path, gate, callbacks);
    host.httpAdapter = adapter;
    return adapter;
  }

  const warnings = () => logger.entries.filter((entry) => entry.level === 'warn');

  before(async () => {
    Logger.overrideLogger(logger);
    sandbox = await ZapierSandbox.start({ rateLimit: false });
    const options = resolveZapierOptions({ jwksUrl: sandbox.jwksUrl });
    ({ dataSource, close: closeDatabase } = await migratedDataSource('sqlite', 'installer_spec'));
    const lifecycle = lifecycleOver(dataSource, options, clock, new ZapierClaimedDeliveries());
    callbacks = new ZapierCallbackService(lifecycle, clock, options);
    signature = await sandbox.signer.sign({ issuedAt: new Date(NOW) });
  });
  after(async () => {
    await sandbox.stop();
    await closeDatabase();
    Logger.overrideLogger(new ConsoleLogger());
  });
  beforeEach(async () => {
    logger.entries.length = 0;
    await dataSource.query('DELETE FROM zapier_callback_quarantine');
  });

  describe('on Fastify', () => {
    let app: FastifyInstance;

    /** A Fastify app with the installer applied, then the routes a host would have. */
    function fastifyApp(path = '/zapier/callback', limit?: number): FastifyInstance {
      app = install(new FastifyAdapter(fastify()), path, limit).getInstance<FastifyInstance>();
      const echo = (request: { body: unknown }): Seen => ({
        body: request.body,
        rawBody: (request as CallbackRequestExtras).zapierRawBody,
      });
      app.post('/zapier/callback', (request) => echo(request));
      app.put('/zapier/callback', (request) => echo(request));
      app.post('/orders', (request) => echo(request));
      void app.register(
        (api, _options, done) => {
          api.post('/zapier/callback', (request) => echo(request));
          api.post('/my-zapier/callback', (request) => echo(request));
          done();
        },
        { prefix: '/api' },
      );
      return app;
    }

    afterEach(() => app.close());

    const post = (url: string, payload: string | Readable, contentType = 'application/json') =>
      app.inject({
        method: 'POST',
        url,
        payload,
        headers: { 'content-type': contentType, [ZAPIER_SIGNATURE_HEADER]: signature },
      });

    it('takes a callback over Fastify’s 1 MiB default and keeps its text; other routes keep the default', async () => {
      fastifyApp();
      const text = jsonOf(3 * MiB);
      const callback = await post('/zapier/callback', text);
      assert.equal(callback.statusCode, 200);
      const seen = callback.json<Seen>();
      assert.deepEqual(seen.body, JSON.parse(text));
      assert.equal(seen.rawBody, text);

      const orders = await post('/orders', text);
      assert.equal(orders.statusCode, 413);
      const put = await app.inject({
        method: 'PUT',
        url: '/zapier/callback',
        payload: text,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(put.statusCode, 413, 'only POST is the callback route');
      const small = await post('/orders', '{"id":"order-1"}');
      assert.deepEqual(small.json(), { body: { id: 'order-1' } }, 'no raw body kept elsewhere');
      assert.deepEqual(warnings(), [], 'a 413 elsewhere is not the module’s to report');
    });

    it('matches the route under a global prefix by its end, on segment boundaries', async () => {
      fastifyApp('zapier/callback/');
      const text = jsonOf(2 * MiB);
      const prefixed = await post('/api/zapier/callback', text);
      assert.equal(prefixed.statusCode, 200);
      assert.equal(prefixed.json<Seen>().rawBody, text);
      const lookalike = await post('/api/my-zapier/callback', text);
      assert.equal(lookalike.statusCode, 413);
    });

    it('answers 413 over callbackBodyLimit and warns with the declared size', async () => {
      fastifyApp('/zapier/callback', LIMIT);
      const text = jsonOf(LIMIT);
      const response = await post('/zapier/callback', text);
      assert.equal(response.statusCode, 413, 'from the declared length, before any body byte');
      assert.equal(response.headers.connection, 'close');
      assert.equal(
        response.json<{ message: string }>().message,
        ZapierMessages.callbackBodyTooLarge(Buffer.byteLength(text), LIMIT),
      );
      assert.deepEqual(warnings(), [
        {
          level: 'warn',
          context: 'ZapierCallback',
          message: ZapierMessages.callbackRefused(Buffer.byteLength(text), LIMIT),
        },
      ]);
      assert.deepEqual(await quarantined(), []);
    });

    it('stops reading a body with no declared length once it grows past the limit', async () => {
      fastifyApp('/zapier/callback', LIMIT);
      const response = await post('/zapier/callback', Readable.from([jsonOf(2 * LIMIT)]));
      assert.equal(response.statusCode, 413);
      const { message } = response.json<{ message: string }>();
      assert.match(message, /exceeds the limit of 65536 bytes/);
      assert.deepEqual(
        warnings().map((entry) => entry.message),
        [ZapierMessages.callbackRefusedBody(message)],
      );
    });

    it('quarantines a signed body Fastify could not parse, exactly as received', async () => {
      fastifyApp();
      const text = '{"id": "run-2", "status": "succ';
      const response = await post('/zapier/callback', text);
      assert.equal(response.statusCode, 400, 'the client still gets Fastify’s answer');
      const entries = await quarantined();
      assert.equal(entries.length, 1);
      const [entry] = entries;
      assert.equal(entry?.runId, null);
      assert.equal(entry?.rawBody, text);
      assert.equal(entry?.receivedAt, NOW);
      // The cause is Fastify's own message, the one its 400 carries.
      const reason = ZapierMessages.bodyUnparsable(response.json<{ message: string }>().message);
      assert.equal(entry?.reason, reason);
      assert.deepEqual(
        warnings().map((warning) => warning.message),
        [ZapierMessages.callbackQuarantined(text.length, reason)],
      );
    });

    it('answers 401 to an unsigned or badly signed body, and keeps nothing of it', async () => {
      fastifyApp();
      const forged = await sandbox.signer.signWithForeignKey({ issuedAt: new Date(NOW) });
      for (const headers of [{}, { [ZAPIER_SIGNATURE_HEADER]: forged }]) {
        const response = await app.inject({
          method: 'POST',
          url: '/zapier/callback',
          payload: '{"id": ',
          headers: { 'content-type': 'application/json', ...headers },
        });
        assert.equal(response.statusCode, 401);
        assert.equal(response.headers.connection, 'close');
      }
      assert.deepEqual(await quarantined(), []);
    });

    it('keeps the route’s own preParsing and onError hooks', async () => {
      app = install(
        new FastifyAdapter(fastify()),
        '/zapier/callback',
        LIMIT,
      ).getInstance<FastifyInstance>();
      const ran: string[] = [];
      app.post(
        '/zapier/callback',
        {
          preParsing: (_request, _reply, payload, done) => {
            ran.push('preParsing');
            done(null, payload);
          },
          onError: (_request, _reply, error, done) => {
            // The module's own refusals are Nest HttpExceptions.
            const status = (error as { getStatus?(): number }).getStatus?.() ?? error.statusCode;
            ran.push(`onError ${status}`);
            done();
          },
        },
        (request) => ({ rawBody: (request as CallbackRequestExtras).zapierRawBody }),
      );
      const accepted = await post('/zapier/callback', '{"id":"run-3"}');
      assert.deepEqual(accepted.json(), { rawBody: '{"id":"run-3"}' });
      const refused = await post('/zapier/callback', Readable.from([jsonOf(LIMIT)]));
      assert.equal(refused.statusCode, 413);
      assert.deepEqual(ran, ['preParsing', 'preParsing', 'onError 413']);
      assert.equal(warnings().length, 1);
    });
  });

  describe('on Express', () => {
    type Route = (
      req: IncomingMessage & CallbackRequestExtras & { body?: unknown },
      res: ServerResponse,
    ) => void;
    type ExpressApp = RequestListener & { post(path: string, route: Route): void };
    let server: ReturnType<typeof createServer>;
    let port: number;

    const echo: Route = (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ body: req.body, rawBody: req.zapierRawBody }));
    };

    before(async () => {
      const app = install(
        new ExpressAdapter(),
        '/zapier/callback',
        LIMIT,
      ).getInstance<ExpressApp>();
      app.post('/api/zapier/callback', echo);
      // No body parser here: what arrives is whatever the module left unread.
      app.post('/orders', (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => res.end(Buffer.concat(chunks)));
      });
      server = createServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    const post = (path: string, body: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path,
            headers: { 'content-type': 'application/json', [ZAPIER_SIGNATURE_HEADER]: signature },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });

    it('reads the callback route under a global prefix, with a query string', async () => {
      const text = '{"id":"run-4","status":"success"}';
      const response = await post('/api/zapier/callback?attempt=2', text);
      assert.equal(response.status, 200);
      assert.deepEqual(JSON.parse(response.text), {
        body: { id: 'run-4', status: 'success' },
        rawBody: text,
      });
    });

    it('answers 413 over callbackBodyLimit and warns with the size', async () => {
      const text = jsonOf(LIMIT);
      const response = await post('/api/zapier/callback', text);
      assert.equal(response.status, 413);
      assert.deepEqual(
        warnings().map((entry) => [entry.context, entry.message]),
        [['ZapierCallback', ZapierMessages.callbackRefused(Buffer.byteLength(text), LIMIT)]],
      );
    });

    it('leaves other routes’ bodies for their own parsers', async () => {
      const text = jsonOf(2 * LIMIT);
      const response = await post('/orders', text);
      assert.equal(response.status, 200);
      assert.equal(response.text, text);
      assert.deepEqual(warnings(), []);
    });
  });
});
