import type { ZapierRunError } from '../../src/index.js';
import type { ZapierCallbackShorthand } from '../../src/testing/index.js';

/** Inputs of a run the tests start; only the sandbox ever sees them. */
export const SAMPLE_RUN = {
  action: 'act_1',
  authentication: 'conn_1',
  inputs: { to: 'a@example.com' },
};

/** What a successful sample run reports. */
export const SAMPLE_RESULTS = [{ email: 'a@example.com' }];

/** What a failed sample run reports. */
export const SAMPLE_ERRORS: ZapierRunError[] = [{ code: 'user', title: 't', detail: 'd' }];

/** Unique run ids for one suite: `arun_<scope>_1`, `arun_<scope>_2`, ... */
export function runIds(scope: string): () => string {
  let seq = 0;
  return () => `arun_${scope}_${++seq}`;
}

/** A success callback for `id` with the sample results, for the signer's `callbackRequest`. */
export function successCallback(id: string): ZapierCallbackShorthand {
  return { id, status: 'success', results: SAMPLE_RESULTS };
}

/** The JSON text Zapier posts for a successful run, for requests built by hand. */
export function runResultBody(id: string): string {
  return JSON.stringify({ data: { type: 'run', id, status: 'success', results: [] } });
}
