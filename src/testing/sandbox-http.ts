import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** One item of Zapier's JSON:API error envelope (docs/decisions.md#f1-errors). */
export interface SandboxApiError {
  status: number;
  code: string;
  title: string;
  detail: string;
  source: { pointer: string | null; parameter: string | null; header: string | null } | null;
  meta: Record<string, unknown> | null;
}

const TITLES: Record<string, string> = {
  parse_error: 'ParseError',
  invalid: 'ValidationError',
  authentication_failed: 'AuthenticationFailed',
  not_found: 'NotFound',
  method_not_allowed: 'MethodNotAllowed',
  request_too_large: 'RequestTooLarge',
  throttled: 'Throttled',
  service_unavailable: 'ServiceUnavailable',
  gateway_timeout: 'GatewayTimeout',
  error: 'APIException',
};

const CODES_BY_STATUS: Record<number, string> = {
  400: 'invalid',
  401: 'authentication_failed',
  404: 'not_found',
  429: 'throttled',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

/**
 * Builds `{"errors": [...]}`. Parse and validation errors carry Zapier's `meta` (as in the
 * OpenAPI 400 example); the others send `meta: null`.
 */
export function errorEnvelope(
  status: number,
  detail: string,
  options: { code?: string; pointer?: string } = {},
): { errors: SandboxApiError[] } {
  const code = options.code ?? CODES_BY_STATUS[status] ?? 'error';
  const withMeta = code === 'parse_error' || code === 'invalid' || code === 'error';
  return {
    errors: [
      {
        status,
        code,
        title: TITLES[code] ?? 'APIException',
        detail,
        source:
          options.pointer === undefined
            ? null
            : { pointer: options.pointer, parameter: null, header: null },
        meta: withMeta ? { source: 'ZAPIER', full_details: { message: detail, code } } : null,
      },
    ],
  };
}

/** Reads the whole body as UTF-8, or returns `null` when it exceeds `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Keep draining past the limit: leaving the loop early would destroy the socket before the 413.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? null : Buffer.concat(chunks).toString('utf8');
}

/** Sends `body` as JSON (or an empty body when `undefined`), unless the socket is gone. */
export function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  if (res.destroyed || res.headersSent) return;
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
