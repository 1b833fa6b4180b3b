import { Inject, Injectable } from '@nestjs/common';
import { ZAPIER_OPTIONS } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierConfigurationError } from '../errors/zapier-configuration.error.js';
import { readLimitedText, ZapierBodyTooLargeError } from '../common/read-limited-body.js';
import { ZapierApiError } from './zapier-api.error.js';

/** A response from Zapier's API, body parsed as JSON when it is JSON. */
export interface ZapierResponse {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/**
 * Sends one request to Zapier's API with the access token and the request timeout, reading at
 * most `responseBodyLimit` bytes of the answer. It never retries; callers decide (a create must
 * not be retried on a timeout or 5xx).
 */
@Injectable()
export class ZapierHttp {
  constructor(@Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions) {}

  /** Whether a 401 may be worth one more try: only a token function can return a new token. */
  get canRefreshToken(): boolean {
    return typeof this.options.accessToken === 'function';
  }

  /**
   * `signal` aborts the request (app shutdown): the `AbortError` is rethrown as is, since the
   * request was given up rather than answered.
   */
  async send(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<ZapierResponse> {
    const token = await this.token();
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs);
    let response: Response | undefined;
    let text: string;
    try {
      response = await fetch(`${this.options.apiBaseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'error',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      // The timeout covers the body too: an answer that stalls mid-body is no answer.
      text = await readLimitedText(response, this.options.responseBodyLimit);
    } catch (error) {
      if (signal?.aborted) throw error;
      if (error instanceof ZapierBodyTooLargeError && response) {
        throw new ZapierApiError(
          ZapierMessages.apiResponseTooLarge(method, path, response.status, error.limit),
          response.status,
          [],
          { cause: error },
        );
      }
      const reason =
        (error as Error).name === 'TimeoutError' ? 'timed out' : (error as Error).message;
      throw new ZapierApiError(ZapierMessages.noResponse(method, path, reason), 0, [], {
        cause: error,
      });
    }
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  }

  private async token(): Promise<string> {
    const source = this.options.accessToken;
    if (source === undefined)
      throw new ZapierConfigurationError(ZapierMessages.missingAccessToken());
    const token = typeof source === 'function' ? await source() : source;
    if (typeof token !== 'string' || token === '') {
      throw new ZapierConfigurationError(ZapierMessages.missingAccessToken());
    }
    return token;
  }
}
