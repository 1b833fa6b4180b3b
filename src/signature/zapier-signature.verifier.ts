import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import {
  ZAPIER_CLOCK,
  ZAPIER_OPTIONS,
  ZAPIER_SIGNATURE_HEADER,
  ZAPIER_TOKEN_LIFETIME_SECONDS,
} from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import {
  ZapierSignatureException,
  ZapierUnavailableException,
} from '../errors/zapier-http.exceptions.js';
import { RateLimitedLog } from '../common/rate-limited-log.js';
import {
  ZapierKeySet,
  ZapierKeysUnavailableError,
  type ZapierKeyStatus,
} from './zapier-key-set.js';
import { ZapierTelemetry } from '../telemetry/zapier-telemetry.js';

/**
 * Verifies the JWT Zapier sends in `Zapier-Callback-Signature` (docs/decisions.md#d8): an
 * asymmetric signature by a key from Zapier's JWKS, `exp` and `iat` present, at most 5 minutes
 * old (plus the clock tolerance), `iss`/`aud` when configured. A bad token is the caller's fault
 * (401, which Zapier does not retry); keys we cannot fetch are ours (503, which it does).
 */
@Injectable()
export class ZapierSignatureVerifier {
  private readonly logger = new Logger('ZapierSignature');
  /** Anyone can send a bad token: their warnings are rate-limited. */
  private readonly warnings = new RateLimitedLog(this.logger);
  /**
   * Requests whose header verified before their body was read. Held by identity (nobody outside
   * can add to it), so the guard need not verify again a token that may have expired meanwhile.
   */
  private readonly verifiedRequests = new WeakSet<object>();
  private readonly keySet: ZapierKeySet;
  /** What every token is checked against, apart from the time. */
  private readonly checks: JWTVerifyOptions;

  constructor(
    @Inject(ZAPIER_OPTIONS) options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
    @Optional() private readonly telemetry: ZapierTelemetry = ZapierTelemetry.disabled,
  ) {
    this.keySet = new ZapierKeySet({ url: options.jwksUrl, ...options.jwks }, clock);
    this.checks = {
      algorithms: options.algorithms,
      requiredClaims: ['exp', 'iat'],
      maxTokenAge: ZAPIER_TOKEN_LIFETIME_SECONDS,
      clockTolerance: options.clockToleranceSeconds,
      issuer: options.issuer,
      audience: options.audience,
    };
  }

  /** Returns the verified claims, or throws a 401 / 503 `HttpException` (and counts it). */
  async verify(token: string | string[] | undefined): Promise<JWTPayload> {
    try {
      return await this.check(token);
    } catch (error) {
      this.telemetry.callback(
        error instanceof ZapierSignatureException ? 'unauthorized' : 'unavailable',
      );
      throw error;
    }
  }

  private async check(token: string | string[] | undefined): Promise<JWTPayload> {
    if (typeof token !== 'string' || token === '') {
      this.warnings.warn('missing', () => ZapierMessages.signatureMissing());
      throw new ZapierSignatureException('missing');
    }
    try {
      const { payload } = await jwtVerify(token, this.keySet.getKey, {
        ...this.checks,
        currentDate: new Date(this.clock.now()),
      });
      return payload;
    } catch (error) {
      if (error instanceof ZapierKeysUnavailableError) {
        throw new ZapierUnavailableException(ZapierMessages.keysUnavailable(), { cause: error });
      }
      if (error instanceof joseErrors.JOSEError) {
        const code = error.code;
        this.warnings.warn(code, () => ZapierMessages.signatureRejected(code));
        throw new ZapierSignatureException(error.code);
      }
      throw error;
    }
  }

  /**
   * Where Zapier's signing keys stand: fetched first if none are loaded yet or they are old, as
   * the first callback would. For health checks; never throws.
   */
  keyStatus(): Promise<ZapierKeyStatus> {
    return this.keySet.status();
  }

  /** Verifies the header of a raw request, and remembers the request when it verified. */
  async verifyRequest(request: {
    headers: Record<string, string | string[] | undefined>;
  }): Promise<void> {
    await this.verify(request.headers[ZAPIER_SIGNATURE_HEADER]);
    this.verifiedRequests.add(request);
  }

  /** True for a request `verifyRequest` accepted (the raw Node request on Fastify). */
  wasVerified(request: object): boolean {
    return this.verifiedRequests.has(request);
  }
}
