import { HttpException, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { ZAPIER_OPTIONS } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { RateLimitedLog } from '../common/rate-limited-log.js';
import { callbackBodyLimits } from '../common/json-limits.js';
import { ZapierSignatureVerifier } from '../signature/zapier-signature.verifier.js';
import { CallbackMemoryBudget } from './callback-memory-budget.js';
import { ZapierInvalidCallbackException } from '../errors/zapier-http.exceptions.js';
import { readCallbackBody, type CallbackBodyRead } from './read-callback-body.js';
import { ZapierCallbackService } from './zapier-callback.service.js';
import type { EarlyRefusal } from './refuse-early.js';
import type { JsonShapeLimits } from './json-shape-scanner.js';
import { ZapierTelemetry } from '../telemetry/zapier-telemetry.js';

/**
 * What stands between the network and a callback's body, on either adapter: the signature is
 * checked on the headers alone (the token does not cover the body, so nothing is lost by not
 * reading it first), then the body is read within the per-callback limits and the memory budget
 * all callbacks share. An unsigned request costs one signature check and no body bytes. What it
 * refuses it answers itself, on both adapters, before the route runs.
 */
@Injectable()
export class ZapierCallbackGate {
  private readonly logger = new Logger('ZapierCallback');
  private readonly warnings = new RateLimitedLog(this.logger);
  private readonly memory: CallbackMemoryBudget;
  /** `resultLimits` measured on the whole body. */
  private readonly shape: JsonShapeLimits;

  constructor(
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    private readonly verifier: ZapierSignatureVerifier,
    private readonly callbacks: ZapierCallbackService,
    @Optional() private readonly telemetry: ZapierTelemetry = ZapierTelemetry.disabled,
  ) {
    this.memory = new CallbackMemoryBudget(options.callbackMemoryLimit);
    this.shape = callbackBodyLimits(options.resultLimits);
  }

  /** Bytes the callbacks being read and stored hold right now (for tests and benchmarks). */
  get memoryInUse(): number {
    return this.memory.inUse;
  }

  /** True for a request `admit` let through (the raw Node request on Fastify). */
  admitted(request: IncomingMessage): boolean {
    return this.verifier.wasVerified(request);
  }

  /**
   * Verifies the signature header and checks the declared length: a refusal to send at once,
   * without reading the body, or nothing when the body may be read.
   */
  async admit(request: IncomingMessage): Promise<EarlyRefusal | undefined> {
    try {
      await this.verifier.verifyRequest(request);
    } catch (error) {
      if (error instanceof HttpException) {
        return { ...refusalFrom(error), unsigned: error.getStatus() === 401 };
      }
      throw error;
    }
    const declared = Number(request.headers['content-length']);
    const limit = this.options.callbackBodyLimit;
    if (declared > limit) {
      this.telemetry.callback('too_large');
      this.warnings.warn('too-large', () => ZapierMessages.callbackRefused(declared, limit));
      return tooLarge(ZapierMessages.callbackBodyTooLarge(declared, limit));
    }
    return undefined;
  }

  /**
   * Reads an admitted callback's body, or says how to refuse it. Its share of the memory budget
   * is held until `response` closes, so bodies waiting for the database count as well as bodies
   * being read. A body refused part-way as unusable (400) is quarantined with what was read of
   * it first, and answered 503 instead if that fails, so that Zapier sends it again.
   */
  async read(
    request: IncomingMessage,
    body: Readable,
    response: ServerResponse,
  ): Promise<
    { ok: true; body: Buffer; receivedBytes: number } | { ok: false; refusal: EarlyRefusal }
  > {
    const share = this.memory.open();
    response.once('close', share.release);
    const read = await readCallbackBody(
      body,
      request.headers,
      { maxBytes: this.options.callbackBodyLimit, shape: this.shape },
      share,
    );
    if (read.ok) return read;
    share.release();
    const refusal = await this.refusalFor(read);
    this.telemetry.callback(
      refusal.status === 503 ? 'unavailable' : refusal.status === 413 ? 'too_large' : 'invalid',
    );
    return { ok: false, refusal };
  }

  private async refusalFor(read: Extract<CallbackBodyRead, { ok: false }>): Promise<EarlyRefusal> {
    if (read.status === 503) {
      this.warnings.warn('memory', () => ZapierMessages.callbackMemoryRefused());
      return unavailable(read.reason);
    }
    if (read.status === 413) {
      this.warnings.warn('too-large', () => ZapierMessages.callbackRefusedBody(read.reason));
      return tooLarge(read.reason);
    }
    try {
      await this.callbacks.quarantine(read.partial.toString('utf8'), read.reason);
    } catch {
      return unavailable(ZapierMessages.storageUnavailable());
    }
    const invalid = new ZapierInvalidCallbackException([read.reason]);
    return { status: 400, body: invalid.getResponse() as EarlyRefusal['body'] };
  }
}

function unavailable(message: string): EarlyRefusal {
  return { status: 503, body: { statusCode: 503, error: 'Service Unavailable', message } };
}

function tooLarge(message: string): EarlyRefusal {
  return { status: 413, body: { statusCode: 413, error: 'Payload Too Large', message } };
}

function refusalFrom(error: HttpException): EarlyRefusal {
  const response = error.getResponse();
  const body =
    typeof response === 'object'
      ? (response as EarlyRefusal['body'])
      : { statusCode: error.getStatus(), message: response };
  return { status: error.getStatus(), body };
}
