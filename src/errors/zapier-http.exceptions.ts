import { HttpException, HttpStatus } from '@nestjs/common';
import { ZapierMessages } from '../zapier.messages.js';

/**
 * 401: the callback's `Zapier-Callback-Signature` is missing or does not verify. `reason` is a
 * short code (jose's error code, or `missing`), safe to log; the token itself never is.
 *
 * @publicApi
 */
export class ZapierSignatureException extends HttpException {
  constructor(readonly reason: string) {
    super(
      {
        statusCode: HttpStatus.UNAUTHORIZED,
        error: 'Unauthorized',
        message: ZapierMessages.invalidSignature(reason),
      },
      HttpStatus.UNAUTHORIZED,
    );
  }
}

/**
 * 400: a correctly signed callback whose body is not a run result. Zapier does not retry it; the
 * body has been quarantined and the run stays pending for the poller.
 *
 * @publicApi
 */
export class ZapierInvalidCallbackException extends HttpException {
  constructor(readonly problems: string[]) {
    super(
      {
        statusCode: HttpStatus.BAD_REQUEST,
        error: 'Bad Request',
        message: ZapierMessages.invalidCallback(problems.join('; ')),
      },
      HttpStatus.BAD_REQUEST,
    );
  }
}

/**
 * 503: the module could not do its part (the run store or Zapier's key set is unreachable).
 * Zapier retries 5xx, so the callback is not lost.
 *
 * @publicApi
 */
export class ZapierUnavailableException extends HttpException {
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      { statusCode: HttpStatus.SERVICE_UNAVAILABLE, error: 'Service Unavailable', message },
      HttpStatus.SERVICE_UNAVAILABLE,
      options,
    );
  }
}
