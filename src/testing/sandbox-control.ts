import type { ZapierRunError } from '../interfaces/action-run.interface.js';
import type { ZapierCallbackShorthand } from './callback-payload.js';

/**
 * The sandbox's own route (not Zapier's): `POST /sandbox/callbacks` with
 * `{"url": "...", "callback": {"id", "status", "results"?, "errors"?}}` signs that callback with
 * the sandbox's current key and delivers it to `url` with Zapier's retries, answering the
 * attempts made. It is how `nestjs-zapier send-callback` reaches a sandbox running in another
 * process without its private keys ever leaving it.
 */
export const SANDBOX_CALLBACKS_PATH = '/sandbox/callbacks';

/** The parsed request, or the first invalid field as a JSON pointer and a sentence. */
export type CallbackCommandParse =
  | { ok: true; url: string; callback: ZapierCallbackShorthand }
  | { ok: false; pointer: string; detail: string };

export function parseCallbackCommand(body: unknown): CallbackCommandParse {
  if (!isObject(body)) return invalid('', 'The request body must be a JSON object.');
  const { url, callback } = body;
  if (typeof url !== 'string' || !isHttpUrl(url)) {
    return invalid('/url', '"url" must be the http(s) URL to deliver the callback to.');
  }
  if (!isObject(callback)) return invalid('/callback', '"callback" must be an object.');
  const { id, status, results, errors } = callback;
  if (typeof id !== 'string' || id === '') {
    return invalid('/callback/id', '"id" must be the run id, a non-empty string.');
  }
  if (status !== 'success' && status !== 'error') {
    return invalid('/callback/status', '"status" must be "success" or "error".');
  }
  if (results !== undefined && !Array.isArray(results) && !isObject(results)) {
    return invalid('/callback/results', '"results" must be an array or an object.');
  }
  if (errors !== undefined && !(Array.isArray(errors) && errors.every(isObject))) {
    return invalid('/callback/errors', '"errors" must be an array of objects.');
  }
  return {
    ok: true,
    url,
    callback: {
      id,
      status,
      ...(results === undefined ? {} : { results }),
      ...(errors === undefined ? {} : { errors: errors as unknown as ZapierRunError[] }),
    },
  };
}

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(pointer: string, detail: string): CallbackCommandParse {
  return { ok: false, pointer, detail };
}
