import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ZAPIER_CLOCK, ZAPIER_OPTIONS } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import {
  ZapierInvalidCallbackException,
  ZapierUnavailableException,
} from '../errors/zapier-http.exceptions.js';
import {
  ZapierValueRefusedError,
  ZapierWriteQueueFullError,
} from '../errors/zapier-storage.errors.js';
import { OutageLog } from '../common/outage-log.js';
import { RateLimitedLog } from '../common/rate-limited-log.js';
import { callbackBodyLimits, exceedsJsonLimits, type JsonLimits } from '../common/json-limits.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierRunLifecycle } from '../runs/zapier-run-lifecycle.js';
import { parseActionRunCallback } from './parse-action-run-callback.js';
import type { CallbackRequestExtras } from './callback-request.js';
import { ZapierTelemetry } from '../telemetry/zapier-telemetry.js';
import { ZAPIER_ATTRIBUTES, ZAPIER_SPANS } from '../telemetry/zapier-instruments.js';

/** A callback whose signature verified, as the route received it. */
export interface VerifiedCallback {
  /** The parsed JSON body (absent when it could not be parsed). */
  body: unknown;
  /** The body exactly as received, when the route kept it. */
  rawBody?: string;
  /** Why the body could not be read as JSON, if it could not. */
  bodyError?: string;
}

/** The request of a callback route, Express's or Fastify's, as `receive()` reads it. @publicApi */
export type ZapierCallbackRequest = CallbackRequestExtras & {
  body?: unknown;
  headers: Record<string, string | string[] | undefined>;
};

/** What the callback route answers with a 2xx. @publicApi */
export interface CallbackReceipt {
  runId: string;
  /** The run was terminal already: this callback changed nothing. */
  duplicate: boolean;
}

/**
 * Accepts a verified callback: validates it, stores it idempotently and returns once it is
 * committed. Use it from your own route (with `ZapierSignatureGuard`) when the module's
 * controller is turned off.
 *
 * @publicApi
 */
@Injectable()
export class ZapierCallbackService {
  private readonly logger = new Logger('ZapierCallback');
  private readonly outage = new OutageLog(this.logger, 'Storing callbacks');
  /** Signed bodies come from Zapier or from a replayed token, which may send many: rate-limited. */
  private readonly warnings = new RateLimitedLog(this.logger);
  /** `resultLimits` measured on a whole body, for bodies parsed before they reach us. */
  private readonly bodyLimits: JsonLimits;

  constructor(
    private readonly runs: ZapierRunLifecycle,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
    @Inject(ZAPIER_OPTIONS) options: ResolvedZapierOptions,
    @Optional() private readonly telemetry: ZapierTelemetry = ZapierTelemetry.disabled,
  ) {
    this.bodyLimits = callbackBodyLimits(options.resultLimits);
  }

  /**
   * Accepts the request of a callback route that `ZapierSignatureGuard` let through, as the
   * module's body reader left it (`callbackPath` names the route, so a custom route gets the same
   * reader). The same as `handle()`, for a route that passes its request.
   */
  receive(request: ZapierCallbackRequest): Promise<CallbackReceipt> {
    const body = request.body;
    // Fastify hands a text/plain body over as a string; Express's reader records the problem.
    const bodyError =
      request.zapierBodyError ??
      (typeof body === 'string'
        ? ZapierMessages.bodyNotJsonType(String(request.headers['content-type']))
        : body === undefined
          ? ZapierMessages.bodyEmpty()
          : undefined);
    return this.handle({ body, rawBody: request.zapierRawBody, bodyError });
  }

  /**
   * Resolves with a receipt once the result is durably stored (or was already). Throws
   * `ZapierInvalidCallbackException` (400) for a body that is not a run result, or whose values
   * the database refuses (a retry would be refused the same way), after keeping it in quarantine;
   * and `ZapierUnavailableException` (503) when the store fails or is too far behind to queue it.
   */
  handle(callback: VerifiedCallback): Promise<CallbackReceipt> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    return this.telemetry.span(ZAPIER_SPANS.callback, {}, async (span) => {
      try {
        const receipt = await this.accept(callback, (runId) =>
          span.setAttribute(ZAPIER_ATTRIBUTES.runId, runId),
        );
        this.telemetry.callback(receipt.duplicate ? 'duplicate' : 'stored', seconds());
        return receipt;
      } catch (error) {
        const outcome = error instanceof ZapierInvalidCallbackException ? 'invalid' : 'unavailable';
        this.telemetry.callback(outcome, seconds());
        throw error;
      }
    });
  }

  private async accept(
    callback: VerifiedCallback,
    identified: (runId: string) => void,
  ): Promise<CallbackReceipt> {
    const receivedAt = this.clock.now();
    if (callback.rawBody === undefined) {
      // Parsed by someone else (a route of the host's, a test): the body reader's limits were not
      // applied, and a body nested deeper than the call stack cannot even be serialised to keep.
      const problem = exceedsJsonLimits(callback.body, this.bodyLimits, 'the callback body');
      if (problem !== undefined) await this.reject(null, [problem], '', receivedAt);
    }
    const rawPayload = callback.rawBody ?? JSON.stringify(callback.body) ?? '';
    if (callback.bodyError !== undefined) {
      await this.reject(null, [callback.bodyError], rawPayload, receivedAt);
    }
    const parsed = parseActionRunCallback(callback.body);
    if (!parsed.ok) await this.reject(parsed.runId, parsed.problems, rawPayload, receivedAt);
    const { value } = parsed as Extract<typeof parsed, { ok: true }>;
    identified(value.runId);
    try {
      const outcome = await this.runs.recordResult({
        ...value,
        rawPayload,
        source: 'callback',
        receivedAt,
      });
      this.outage.succeeded();
      return { runId: value.runId, duplicate: outcome === 'duplicate' };
    } catch (error) {
      if (error instanceof ZapierValueRefusedError) {
        // The database answered, so it is not an outage; only this callback's data is at fault.
        const problems = [ZapierMessages.callbackRefusedByStore(error.reason)];
        return this.reject(value.runId, problems, rawPayload, receivedAt);
      }
      this.outage.failed(error);
      const message =
        error instanceof ZapierWriteQueueFullError
          ? ZapierMessages.storageBusy()
          : ZapierMessages.storageUnavailable();
      throw new ZapierUnavailableException(message, { cause: error });
    }
  }

  /**
   * Quarantines a signed body the HTTP layer refused before the route ran (Fastify's JSON parser,
   * or the body reader's limits). Unsigned bodies never get here: nothing of them is read.
   */
  async quarantine(rawBody: string, reason: string): Promise<void> {
    await this.keep(null, reason, rawBody, this.clock.now());
  }

  private async reject(
    runId: string | null,
    problems: string[],
    rawBody: string,
    receivedAt: number,
  ): Promise<never> {
    const reason = problems.join('; ');
    try {
      await this.keep(runId, reason, rawBody, receivedAt);
    } catch (error) {
      if (!(error instanceof ZapierValueRefusedError)) {
        // Not kept anywhere yet: a 503 makes Zapier send it again rather than lose it.
        this.outage.failed(error);
        throw new ZapierUnavailableException(ZapierMessages.storageUnavailable(), { cause: error });
      }
      // The quarantine refuses a value of it too: Zapier's retries would meet the same refusal,
      // so the 400 stands, and the run stays pending for the poller either way.
      this.warnings.warn('not-kept', () => ZapierMessages.callbackNotKept(runId, error.reason));
    }
    throw new ZapierInvalidCallbackException(problems);
  }

  private async keep(
    runId: string | null,
    reason: string,
    rawBody: string,
    receivedAt: number,
  ): Promise<void> {
    await this.runs.quarantine({ runId, reason, rawBody, receivedAt });
    this.warnings.warn('quarantined', () =>
      runId
        ? ZapierMessages.runCallbackQuarantined(runId, rawBody.length, reason)
        : ZapierMessages.callbackQuarantined(rawBody.length, reason),
    );
  }
}
