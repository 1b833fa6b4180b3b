import { HttpException, Inject, Injectable, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { ZAPIER_OPTIONS } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import type { CallbackRequestExtras } from './callback-request.js';
import { expressCallbackBodyReader } from './express-callback-body.reader.js';
import { closeAfterAnswer } from './refuse-early.js';
import { ZapierCallbackGate } from './zapier-callback-gate.js';
import { ZapierCallbackService } from './zapier-callback.service.js';
import { ZapierTelemetry } from '../telemetry/zapier-telemetry.js';

/** Injection token of the callback route path (an import-time extra). */
export const ZAPIER_CALLBACK_PATH = 'zapier:callback-path';

interface FastifyRouteOptions {
  url: string;
  method: string | string[];
  bodyLimit?: number;
  onRequest?: unknown;
  preParsing?: unknown;
  onError?: unknown;
}
interface FastifyLike {
  addHook(name: 'onRoute', hook: (route: FastifyRouteOptions) => void): void;
}
type FastifyRequestLike = CallbackRequestExtras & { raw: IncomingMessage };
interface FastifyReplyLike {
  raw: ServerResponse;
  code(status: number): FastifyReplyLike;
  send(body: unknown): FastifyReplyLike;
}

/**
 * Puts the gate in front of the callback route, with no change to the host's `main.ts` (no
 * `rawBody`, no body-parser call), whether the route is the module's controller or the host's
 * own (`registerController: false`, same `callbackPath`).
 *
 * It acts when the HTTP adapter is attached, which happens before Nest registers its body parsers
 * and routes: on Express it mounts a reader for the callback path ahead of every middleware; on
 * Fastify it adds route hooks that verify on `onRequest` (before any body byte is read) and read
 * the body on `preParsing`, handing Fastify's parser the decoded bytes (Fastify's default limit is
 * 1 MiB, so the route's `bodyLimit` is raised). Other routes are untouched. Under a global prefix
 * the path is matched by its end.
 */
@Injectable()
export class ZapierCallbackBodyInstaller {
  constructor(
    adapterHost: HttpAdapterHost,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CALLBACK_PATH) private readonly path: string,
    private readonly gate: ZapierCallbackGate,
    private readonly callbacks: ZapierCallbackService,
    @Optional() private readonly telemetry: ZapierTelemetry = ZapierTelemetry.disabled,
  ) {
    adapterHost.init$.subscribe(() => this.install(adapterHost));
  }

  /**
   * Case-insensitive, as Express routes by default: a request the route takes must not slip past
   * the reader (and its limits) by the case of its path.
   */
  private isCallbackPath = (path: string): boolean => {
    const route = `/${this.path.replace(/^\/+|\/+$/g, '')}`.toLowerCase();
    const clean = path.split('?', 1)[0].replace(/\/+$/, '').toLowerCase();
    return clean === route || clean.endsWith(route);
  };

  private install(adapterHost: HttpAdapterHost): void {
    const adapter = adapterHost.httpAdapter;
    if (!adapter) return;
    if (adapter.getType() === 'express') {
      adapter.use(expressCallbackBodyReader(this.isCallbackPath, this.gate));
    } else if (adapter.getType() === 'fastify') {
      adapter.getInstance<FastifyLike>().addHook('onRoute', (route) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        if (!methods.includes('POST') || !this.isCallbackPath(route.url)) return;
        route.bodyLimit = this.options.callbackBodyLimit;
        route.onRequest = [...asList(route.onRequest), this.verifyFirst];
        route.preParsing = [...asList(route.preParsing), this.readBody];
        route.onError = [...asList(route.onError), this.quarantineUnparsable];
      });
    }
  }

  private verifyFirst = async (
    request: FastifyRequestLike,
    reply: FastifyReplyLike,
  ): Promise<FastifyReplyLike | undefined> => {
    const refusal = await this.gate.admit(request.raw);
    if (!refusal) return undefined;
    closeAfterAnswer(request.raw, reply.raw, refusal);
    // Returning the reply tells Fastify the request was answered here.
    return reply.code(refusal.status).send(refusal.body);
  };

  /** Reads the body through the gate and hands Fastify's parser the decoded bytes. */
  private readBody = async (
    request: FastifyRequestLike,
    reply: FastifyReplyLike,
    payload: Readable,
  ): Promise<Readable> => {
    const read = await this.gate.read(request.raw, payload, reply.raw);
    if (!read.ok) {
      closeAfterAnswer(request.raw, reply.raw, read.refusal);
      // An HttpException: Nest's error handler answers it as it is, without logging an error.
      throw new HttpException(read.refusal.body, read.refusal.status);
    }
    request.zapierRawBody = read.body.toString('utf8');
    // Fastify compares Content-Length with this rather than with the decoded length.
    return Object.assign(Readable.from([read.body]), { receivedEncodedLength: read.receivedBytes });
  };

  /** A signed body Fastify's JSON parser refused (400) is quarantined. */
  private quarantineUnparsable = async (
    request: FastifyRequestLike,
    _reply: unknown,
    error: { statusCode?: number; message?: string },
  ): Promise<void> => {
    if (error instanceof HttpException) return; // the gate's own refusals, handled already
    if (error.statusCode !== 400 || request.zapierRawBody === undefined) return;
    if (!this.gate.admitted(request.raw)) return;
    this.telemetry.callback('invalid');
    const reason = ZapierMessages.bodyUnparsable(error.message ?? 'unknown error');
    // Already answered 400; if it cannot be kept, the run still waits for the poller.
    await this.callbacks.quarantine(request.zapierRawBody, reason).catch(() => undefined);
  };
}

function asList(hook: unknown): unknown[] {
  if (hook === undefined || hook === null) return [];
  return Array.isArray(hook) ? hook : [hook];
}
