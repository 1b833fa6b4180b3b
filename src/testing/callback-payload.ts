import type {
  ZapierCallbackPayload,
  ZapierRunError,
  ZapierTerminalStatus,
} from '../interfaces/action-run.interface.js';

/**
 * The short form of a callback body accepted by the testing helpers: the fields of
 * `ZapierCallbackPayload.data` without `type`, with `results` and `errors` defaulting to `[]`.
 *
 * @publicApi
 */
export interface ZapierCallbackShorthand {
  id: string;
  status: ZapierTerminalStatus;
  results?: unknown[] | Record<string, unknown>;
  errors?: ZapierRunError[];
}

/**
 * A callback body, either in full or as {@link ZapierCallbackShorthand}.
 *
 * @publicApi
 */
export type ZapierCallbackInput = ZapierCallbackPayload | ZapierCallbackShorthand;

/**
 * Expands a {@link ZapierCallbackInput} into the body Zapier POSTs (docs/decisions.md#f3).
 *
 * @publicApi
 */
export function toCallbackPayload(input: ZapierCallbackInput): ZapierCallbackPayload {
  if ('data' in input) return input;
  return {
    data: {
      type: 'run',
      id: input.id,
      status: input.status,
      results: input.results ?? [],
      errors: input.errors ?? [],
    },
  };
}
