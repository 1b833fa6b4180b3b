import { validateCallbackUrl, ZapierCallbackUrlError } from '../common/callback-url.js';
import type { SandboxCreateRequest } from './zapier-sandbox.interfaces.js';

/** The parsed request, or the first invalid field as a JSON pointer and a sentence. */
export type CreateRequestParse =
  { ok: true; request: SandboxCreateRequest } | { ok: false; pointer: string; detail: string };

type Fields = Record<string, unknown>;

/**
 * Reads a create body in the reference form `{"data": {action, authentication, inputs,
 * callback_url?}}` or, as a fallback, the guide's flat form `{action, authentication, input,
 * callback_url?}` (docs/decisions.md#f1).
 */
export function parseCreateRequest(body: unknown): CreateRequestParse {
  if (!isObject(body)) return invalid('', 'The request body must be a JSON object.');
  if ('data' in body) {
    if (!isObject(body.data)) return invalid('/data', '"data" must be an object.');
    return parseFields(body.data, '/data/', 'inputs', 'reference');
  }
  if ('action' in body) return parseFields(body, '/', 'input', 'guide');
  return invalid('/data', 'The request body needs a "data" object with the run to create.');
}

function parseFields(
  fields: Fields,
  prefix: string,
  inputsName: 'inputs' | 'input',
  bodyShape: SandboxCreateRequest['bodyShape'],
): CreateRequestParse {
  const { action, authentication, callback_url: callbackUrl } = fields;
  const inputs = fields[inputsName];
  if (typeof action !== 'string' || action === '') {
    return invalid(`${prefix}action`, '"action" is required and must be a non-empty string.');
  }
  if (
    !('authentication' in fields) ||
    (authentication !== null && typeof authentication !== 'string')
  ) {
    return invalid(
      `${prefix}authentication`,
      '"authentication" is required and must be a string or null.',
    );
  }
  if (!isObject(inputs)) {
    return invalid(`${prefix}${inputsName}`, `"${inputsName}" is required and must be an object.`);
  }
  if (callbackUrl !== undefined && callbackUrl !== null) {
    if (typeof callbackUrl !== 'string') {
      return invalid(`${prefix}callback_url`, '"callback_url" must be a string.');
    }
    try {
      validateCallbackUrl(callbackUrl);
    } catch (error) {
      if (error instanceof ZapierCallbackUrlError) {
        return invalid(`${prefix}callback_url`, error.message);
      }
      throw error;
    }
  }
  return {
    ok: true,
    request: {
      action,
      authentication,
      inputs,
      callbackUrl: typeof callbackUrl === 'string' ? callbackUrl : null,
      bodyShape,
    },
  };
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(pointer: string, detail: string): CreateRequestParse {
  return { ok: false, pointer, detail };
}
