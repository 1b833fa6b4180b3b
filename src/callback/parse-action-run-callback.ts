import { validateSync, type ValidationError } from 'class-validator';
import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierRunError, ZapierRunResults } from '../interfaces/action-run.interface.js';
import {
  isWellFormedRunId,
  MAX_RUN_ID_LENGTH,
  normaliseErrors,
  normaliseResults,
} from '../common/normalise-run-fields.js';
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

const DATA_FIELDS = ['type', 'id', 'run_id', 'status', 'results', 'errors'] as const;
const ERROR_FIELDS = ['code', 'title', 'detail', 'delay', 'meta'] as const;
/** Deeper bodies are refused: serialising them again for storage would overflow the stack. */
const MAX_DEPTH = 1000;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Validates a parsed JSON body with the class-validator DTOs and normalises it: `results` always
 * an array (docs/decisions.md#d4), missing `title`/`detail` as empty strings.
 *
 * The body comes from the network, so only the fields the DTOs declare are copied onto them, as
 * own properties: a `constructor` or `__proto__` key in the JSON must neither break
 * class-validator nor make it skip validation. The DTO instances are built by hand rather than
 * with class-transformer, which would deep-copy every result (the payload can be megabytes) only
 * to validate a handful of fields.
 */
export function parseActionRunCallback(body: unknown): ParseOutcome {
  if (!isRecord(body)) return refuse(null, ZapierMessages.bodyNotObject());
  const raw = Object.hasOwn(body, 'data') ? body.data : undefined;
  if (!isRecord(raw)) return refuse(null, ZapierMessages.dataNotObject());
  const idField = Object.hasOwn(raw, 'id') && raw.id !== undefined ? 'id' : 'run_id';
  const candidate = Object.hasOwn(raw, idField) ? raw[idField] : undefined;
  const runId = isWellFormedRunId(candidate) ? candidate : null;
  if (candidate !== undefined && runId === null) {
    return refuse(null, ZapierMessages.runIdMalformed(idField, MAX_RUN_ID_LENGTH));
  }
  if (nestsDeeperThan(raw, MAX_DEPTH)) {
    return refuse(runId, ZapierMessages.dataTooDeep(MAX_DEPTH));
  }
  const data = pick(new ActionRunCallbackDataDto(), raw, DATA_FIELDS);
  if (data.errors !== undefined && data.errors !== null) {
    if (!Array.isArray(data.errors) || !data.errors.every(isRecord)) {
      return refuse(runId, ZapierMessages.errorsNotObjects());
    }
    const items: unknown[] = data.errors;
    data.errors = items.map((item) =>
      pick(new ActionRunCallbackErrorDto(), item as Record<string, unknown>, ERROR_FIELDS),
    );
  }
  const dto = new ActionRunCallbackDto();
  dto.data = data;
  const problems = flatten(
    validateSync(dto, { forbidUnknownValues: false, validationError: { target: false } }),
  );
  // The id was checked above (a missing one is this single problem, not one per DTO rule).
  if (runId === null) problems.unshift(ZapierMessages.runIdMissing());
  if (runId === null || problems.length > 0) return { ok: false, runId, problems };
  return {
    ok: true,
    value: {
      runId,
      status: data.status,
      results: normaliseResults(data.results),
      errors: normaliseErrors(data.errors),
    },
  };
}

function refuse(runId: string | null, problem: string): ParseOutcome {
  return { ok: false, runId, problems: [problem] };
}

/** Copies only the declared fields that the source has as its own. */
function pick<T extends object>(
  target: T,
  source: Record<string, unknown>,
  fields: readonly string[],
): T {
  for (const field of fields) {
    if (Object.hasOwn(source, field)) (target as Record<string, unknown>)[field] = source[field];
  }
  return target;
}

/** Iterative, so a hostile nesting depth cannot overflow the stack here. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
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
