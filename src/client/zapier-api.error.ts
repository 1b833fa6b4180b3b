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
 * Zapier answered a request with an error status (or the request never got an answer:
 * `status` 0 for a timeout or network error). For a create call, a status 0 or a 5xx means the
 * run may or may not exist; the module never retries it (docs/decisions.md#d5).
 *
 * @publicApi
 */
export class ZapierApiError extends Error {
  override readonly name = 'ZapierApiError';

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
