import { Inject, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Transform, type Readable } from 'node:stream';
import { ZAPIER_OPTIONS } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import type { CallbackRequestExtras } from './callback-request.js';
import { expressCallbackBodyReader } from './express-callback-body.reader.js';
import { ZapierCallbackService } from './zapier-callback.service.js';

/** Injection token of the callback route path (an import-time extra). */
export const ZAPIER_CALLBACK_PATH = 'zapier:callback-path';

interface FastifyRouteOptions {
  url: string;
  method: string | string[];
  bodyLimit?: number;
  preParsing?: unknown;
  onError?: unknown;
}
interface FastifyLike {
  addHook(name: 'onRoute', hook: (route: FastifyRouteOptions) => void): void;
}
type FastifyRequestLike = CallbackRequestExtras & {
  headers: Record<string, string | string[] | undefined>;
};

/**
 * Lets the callback route take large bodies with no change to the host's `main.ts` (no
 * `rawBody`, no body-parser call), and keeps each body as received.
 *
 * It acts when the HTTP adapter is attached, which happens before Nest registers its body parsers
 * and routes: on Express it mounts a reader for the callback path ahead of the global JSON parser;
 * on Fastify it raises the route's `bodyLimit` (Fastify's default is 1 MiB) and tees the body as
 * it streams to the parser. Other routes are untouched. Under a global prefix the path is matched
 * by its end.
 */
@Injectable()
export class ZapierCallbackBodyInstaller {
  private readonly logger = new Logger('ZapierCallback');

  constructor(
    adapterHost: HttpAdapterHost,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CALLBACK_PATH) private readonly path: string,
    private readonly callbacks: ZapierCallbackService,
  ) {
    adapterHost.init$.subscribe(() => this.install(adapterHost));
  }

  /** Zapier never retries a 413, so a refused callback is worth a warning. */
  private tooLarge = (bytes: number | undefined): void => {
    const limit = this.options.callbackBodyLimit;
    this.logger.warn(
      bytes === undefined
        ? ZapierMessages.callbackRefusedUnsized(limit)
        : ZapierMessages.callbackRefused(bytes, limit),
    );
  };

  private isCallbackPath = (path: string): boolean => {
    const route = `/${this.path.replace(/^\/+|\/+$/g, '')}`;
    const clean = path.split('?', 1)[0].replace(/\/+$/, '');
    return clean === route || clean.endsWith(route);
  };

  private install(adapterHost: HttpAdapterHost): void {
    const adapter = adapterHost.httpAdapter;
    if (!adapter) return;
    const limit = this.options.callbackBodyLimit;
    if (adapter.getType() === 'express') {
      adapter.use(expressCallbackBodyReader(this.isCallbackPath, limit, this.tooLarge));
    } else if (adapter.getType() === 'fastify') {
      adapter.getInstance<FastifyLike>().addHook('onRoute', (route) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        if (!methods.includes('POST') || !this.isCallbackPath(route.url)) return;
        route.bodyLimit = limit;
        route.preParsing = [...asList(route.preParsing), keepRawBody];
        route.onError = [...asList(route.onError), this.quarantineUnparsable];
      });
    }
  }

  /** A body Fastify's parser rejected (400) is kept if it was signed; a 413 is logged. */
  private quarantineUnparsable = async (
    request: FastifyRequestLike,
    _reply: unknown,
    error: { statusCode?: number; message?: string },
  ): Promise<void> => {
    if (error.statusCode === 413) {
      const declared = Number(request.headers['content-length']);
      this.tooLarge(Number.isFinite(declared) ? declared : undefined);
      return;
    }
    if (error.statusCode !== 400 || request.zapierRawBody === undefined) return;
    await this.callbacks.quarantineIfSigned(
      request.headers,
      request.zapierRawBody,
      ZapierMessages.bodyUnparsable(error.message ?? 'unknown error'),
    );
  };
}

function asList(hook: unknown): unknown[] {
  if (hook === undefined || hook === null) return [];
  return Array.isArray(hook) ? hook : [hook];
}

/** Fastify `preParsing` hook: passes the body through unchanged, keeping a copy. */
function keepRawBody(
  request: FastifyRequestLike,
  _reply: unknown,
  payload: Readable,
  done: (error: Error | null, payload?: Readable) => void,
): void {
  const chunks: Buffer[] = [];
  const tee = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      request.zapierRawBody = Buffer.concat(chunks).toString('utf8');
      callback();
    },
  });
  payload.on('error', (error) => tee.destroy(error));
  done(null, payload.pipe(tee));
}
