import { validateSync, type ValidationError } from 'class-validator';
import type { ZapierRunError, ZapierRunResults } from '../interfaces/action-run.interface.js';
import { normaliseErrors, normaliseResults } from '../common/normalise-run-fields.js';
import {
  ActionRunCallbackDataDto,
  ActionRunCallbackDto,
  ActionRunCallbackErrorDto,
} from './dto/action-run-callback.dto.js';

/** A callback body that validated, normalised to what the store and the events need. */
export interface ParsedCallback {
  runId: string;
  status: 'success' | 'error';
  results: ZapierRunResults;
  errors: ZapierRunError[];
}

export type ParseOutcome =
  { ok: true; value: ParsedCallback } | { ok: false; runId: string | null; problems: string[] };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Validates a parsed JSON body with the class-validator DTOs and normalises it: `results` always
 * an array (ZAPIER.md decision 4), missing `title`/`detail` as empty strings. The DTO instances
 * are built by hand rather than with class-transformer, which would deep-copy every result (the
 * payload can be megabytes) only to validate a handful of fields.
 */
export function parseActionRunCallback(body: unknown): ParseOutcome {
  const dto = Object.assign(new ActionRunCallbackDto(), body);
  if (isRecord(body) && isRecord(body.data)) {
    const data = Object.assign(new ActionRunCallbackDataDto(), body.data);
    if (Array.isArray(data.errors)) {
      data.errors = data.errors.map((item: unknown) =>
        isRecord(item)
          ? Object.assign(new ActionRunCallbackErrorDto(), item)
          : (item as ActionRunCallbackErrorDto),
      );
    }
    dto.data = data;
  }
  const problems = isRecord(body)
    ? flatten(validateSync(dto, { forbidUnknownValues: false, validationError: { target: false } }))
    : ['the body is not a JSON object'];
  const data = isRecord(body) && isRecord(body.data) ? body.data : undefined;
  const runId =
    typeof data?.id === 'string' ? data.id : typeof data?.run_id === 'string' ? data.run_id : null;
  if (problems.length > 0 || runId === null || runId === '') {
    return {
      ok: false,
      runId: runId || null,
      problems: problems.length > 0 ? problems : ['data.id is missing'],
    };
  }
  const valid = dto.data;
  return {
    ok: true,
    value: {
      runId,
      status: valid.status,
      results: normaliseResults(valid.results),
      errors: normaliseErrors(valid.errors),
    },
  };
}

function flatten(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((error) => {
    const path = `${prefix}${error.property}`;
    const own = Object.values(error.constraints ?? {}).map((text) =>
      text.startsWith(error.property) ? `${prefix}${text}` : `${path}: ${text}`,
    );
    return [...own, ...flatten(error.children ?? [], `${path}.`)];
  });
}
