import type { ZapierCallbackPayload, ZapierRunError } from '../interfaces/action-run.interface.js';
import type {
  RunOutcome,
  SandboxPendingStyle,
  SandboxPollShape,
  SandboxRun,
} from './zapier-sandbox.interfaces.js';

/** A run as the sandbox keeps it. */
export interface SandboxRunState extends SandboxRun {
  failPollsLeft: number;
}

const SCRIPTED_FAILURE: ZapierRunError = {
  code: 'user',
  title: 'ActionFailed',
  detail: 'The sandbox was scripted to fail this run.',
  meta: null,
};

/** The errors a completed run reports. */
export function runErrors(outcome: RunOutcome): ZapierRunError[] {
  return outcome.errors ?? (outcome.status === 'error' ? [SCRIPTED_FAILURE] : []);
}

/** The body POSTed to the callback URL: the polling shape plus `id` (docs/decisions.md#f3). */
export function callbackBody(run: SandboxRunState): ZapierCallbackPayload {
  return {
    data: {
      type: 'run',
      id: run.id,
      status: run.outcome.status,
      results: run.outcome.results ?? [],
      errors: runErrors(run.outcome),
    },
  };
}

/** `GET /v2/action-runs/{id}` for a completed run, in the reference or the guide shape. */
export function completedPollBody(run: SandboxRunState, shape: SandboxPollShape): unknown {
  const results = run.outcome.results ?? [];
  const errors = runErrors(run.outcome);
  if (shape === 'reference') {
    return { data: { type: 'run', status: run.outcome.status, results, errors } };
  }
  const object = Array.isArray(results) ? (results[0] ?? {}) : results;
  return {
    data: { type: 'run', run_id: run.id, status: run.outcome.status, results: object, errors },
  };
}

/** `GET /v2/action-runs/{id}` while the run is not complete (docs/decisions.md#f2). */
export function pendingPoll(
  run: SandboxRunState,
  style: SandboxPendingStyle,
): { status: number; body?: unknown } {
  if (style === '202') return { status: 202 };
  if (style === 'waiting') {
    return {
      status: 200,
      body: { data: { type: 'run', status: 'waiting', results: [], errors: [] } },
    };
  }
  return {
    status: 200,
    body: { data: { type: 'run', run_id: run.id, status: style, results: {}, errors: [] } },
  };
}

/** A copy of the run for callers, so they cannot change the sandbox's state. */
export function snapshot(run: SandboxRunState): SandboxRun {
  return {
    id: run.id,
    request: run.request,
    outcome: run.outcome,
    status: run.status,
    createdAt: run.createdAt,
    completedAt: run.completedAt,
    polls: run.polls,
    deliveries: run.deliveries.map((delivery) => ({ ...delivery })),
  };
}
