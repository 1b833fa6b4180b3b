import type { ZapierRunError, ZapierRunResults } from '../interfaces/action-run.interface.js';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `results` as an array: Zapier sends an array or an object (docs/decisions.md#d4). */
export function normaliseResults(results: unknown): ZapierRunResults {
  if (results === undefined || results === null) return [];
  return (Array.isArray(results) ? results : [results]) as ZapierRunResults;
}

/**
 * `errors` with the documented fields typed: `code` an open string, `title` and `detail` strings
 * (empty when absent), `delay` (seconds) and `meta` kept when present.
 */
export function normaliseErrors(errors: unknown): ZapierRunError[] {
  if (!Array.isArray(errors)) return [];
  return errors.filter(isRecord).map((item) => {
    const error: ZapierRunError = {
      code: typeof item.code === 'string' ? item.code : 'unknown',
      title: typeof item.title === 'string' ? item.title : '',
      detail: typeof item.detail === 'string' ? item.detail : '',
    };
    if (typeof item.delay === 'number') error.delay = item.delay;
    if (isRecord(item.meta) || item.meta === null) error.meta = item.meta;
    return error;
  });
}
