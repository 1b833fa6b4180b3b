import type { ZapierRunError, ZapierRunResults } from '../interfaces/action-run.interface.js';

/** Longest run id, in code points: the size of the `run_id` column. */
export const MAX_RUN_ID_LENGTH = 255;

/**
 * A run id we can key on, wherever it comes from (a callback, Zapier's API): a non-empty string of
 * at most 255 code points, without control characters (a NUL is refused by PostgreSQL, and
 * newlines or escapes would forge log lines and break the ids a message tells the reader to copy)
 * and without lone surrogates (stored as U+FFFD, they would collide with other ids).
 */
export function isWellFormedRunId(id: unknown): id is string {
  if (typeof id !== 'string' || id === '' || /[\p{Cc}\p{Cs}]/u.test(id)) return false;
  // Code points, not UTF-16 units or graphemes (class-validator's MaxLength counts the latter).
  return id.length <= MAX_RUN_ID_LENGTH || Array.from(id).length <= MAX_RUN_ID_LENGTH;
}

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
