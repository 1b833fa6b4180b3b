import type { ActionRun } from '../interfaces/action-run.interface.js';
import {
  isWellFormedRunId,
  normaliseErrors,
  normaliseResults,
} from '../common/normalise-run-fields.js';

const PENDING = new Set(['waiting', 'queued', 'running']);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads `GET /v2/action-runs/{id}` leniently (docs/decisions.md#f2 and #d2 to #d4): the body may be
 * enveloped in `data` or not; the id is `data.id`, else `data.run_id`, else the one asked for
 * (an id that is not a well-formed run id, see `isWellFormedRunId`, counts as absent);
 * `success` and `error` are the only terminal statuses, and HTTP 202, `waiting`, `queued`,
 * `running`, a missing or an unknown status all mean pending (`unknownStatus` reports the last).
 */
export function parseActionRun(
  httpStatus: number,
  body: unknown,
  requestedId: string,
): { run: ActionRun; unknownStatus: string | null } {
  const data = isRecord(body) && isRecord(body.data) ? body.data : isRecord(body) ? body : {};
  // An id that is not a usable key (empty, too long, control characters) counts as absent.
  const id = isWellFormedRunId(data.id)
    ? data.id
    : isWellFormedRunId(data.run_id)
      ? data.run_id
      : requestedId;
  const rawStatus = typeof data.status === 'string' ? data.status : null;
  const terminal = httpStatus !== 202 && (rawStatus === 'success' || rawStatus === 'error');
  const unknownStatus =
    rawStatus !== null &&
    !terminal &&
    !PENDING.has(rawStatus) &&
    rawStatus !== 'success' &&
    rawStatus !== 'error'
      ? rawStatus
      : null;
  return {
    run: {
      id,
      status: terminal ? rawStatus : 'pending',
      rawStatus,
      results: normaliseResults(data.results),
      errors: normaliseErrors(data.errors),
    },
    unknownStatus,
  };
}
