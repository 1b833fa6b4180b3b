import { ZapierMessages } from '../zapier.messages.js';

/**
 * One item of Zapier's JSON:API error envelope (`{ "errors": [...] }`). `status` comes as a
 * number or a string depending on the source (docs/decisions.md#f1-errors), so it is kept as sent.
 *
 * @publicApi
 */
export interface ZapierApiErrorItem {
  status?: number | string;
  code?: string;
  title?: string;
  detail?: string;
  source?: { pointer?: string; parameter?: string; header?: string } | null;
  meta?: Record<string, unknown> | null;
}

/**
 * Zapier answered a request with an error status, or with a body over `responseBodyLimit`
 * (`status` is then the answer's; a 2xx to a create means the run was started), or the request
 * never got an answer (`status` 0 for a timeout or network error). For a create call, a status 0
 * or a 5xx means the run may or may not exist; the module never retries it
 * (docs/decisions.md#d5).
 *
 * @publicApi
 */
export class ZapierApiError extends Error {
  override readonly name: string = 'ZapierApiError';

  constructor(
    message: string,
    /** HTTP status, or 0 when no response arrived. */
    readonly status: number,
    /** Zapier's JSON:API errors, when the body had them. */
    readonly errors: ZapierApiErrorItem[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A create call was refused before anything was sent: the shared request budget (a 429 cooldown,
 * or a queue of requests ahead) would have made it wait longer than `requestTimeoutMs` for its
 * slot. No run was started and no slot was used, so it is safe to call again after
 * `retryAfterMs`. `status` is 429, as if Zapier itself had refused it.
 *
 * @example
 * try {
 *   await client.createActionRun(input);
 * } catch (error) {
 *   if (!(error instanceof ZapierRateLimitedError)) throw error;
 *   await queue.retryLater(input, error.retryAfterMs);
 * }
 * @publicApi
 */
export class ZapierRateLimitedError extends ZapierApiError {
  override readonly name = 'ZapierRateLimitedError';

  constructor(
    message: string,
    /** How long until the budget has a slot, in ms (at most `polling.maxCooldownMs` plus the queue). */
    readonly retryAfterMs: number,
    /** Zapier's JSON:API errors, when the refusal follows a 429 that had them. */
    errors: ZapierApiErrorItem[] = [],
  ) {
    super(message, 429, errors);
  }
}

/**
 * `createActionRun()` started the run at Zapier but could not record it locally (the database
 * was unreachable). The run exists: do not start it again. Its callback will still be stored,
 * without the metadata.
 *
 * @publicApi
 */
export class ZapierRunNotRecordedError extends Error {
  override readonly name = 'ZapierRunNotRecordedError';

  constructor(
    readonly runId: string,
    options?: { cause?: unknown },
  ) {
    super(ZapierMessages.runNotRecorded(runId), options);
  }
}

/** Reads Zapier's error envelope leniently; anything else gives an empty list. */
export function parseErrorItems(body: unknown): ZapierApiErrorItem[] {
  if (typeof body !== 'object' || body === null) return [];
  const errors = (body as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors.filter(
    (item): item is ZapierApiErrorItem => typeof item === 'object' && item !== null,
  );
}
