import type { ZapierRunError, ZapierTerminalStatus } from '../interfaces/action-run.interface.js';

/**
 * How the sandbox answers `GET /v2/action-runs/{id}` for a run that is not complete.
 * `waiting` is the reference shape (no id); `running` and `queued` use the guide shape (with
 * `run_id`); `202` answers HTTP 202 with an empty body (docs/decisions.md#f2).
 *
 * @publicApi
 */
export type SandboxPendingStyle = 'waiting' | 'running' | 'queued' | '202';

/**
 * Shape of a completed poll: `reference` is `{type, status, results: [...], errors}` without an
 * id; `guide` is `{type, run_id, status, results: {...}, errors}` (docs/decisions.md#f2).
 *
 * @publicApi
 */
export type SandboxPollShape = 'reference' | 'guide';

/**
 * How `GET /.well-known/jwks.json` behaves: serve the keys, answer 503, never answer, answer
 * broken JSON, answer `{"keys": null}`, serve the keys padded to 2 MiB (`oversized`), or answer
 * 302 to a URL that serves the keys.
 *
 * @publicApi
 */
export type SandboxJwksBehaviour =
  'ok' | 'error-503' | 'hang' | 'invalid-json' | 'keys-null' | 'oversized' | 'redirect';

/**
 * How a 429's `Retry-After` names the end of the cooldown: whole `seconds` from now (what Zapier
 * documents, at least 1), an `http-date`, or an epoch in `epoch-seconds` or `epoch-ms`, as broken
 * or unusual servers send it.
 *
 * @publicApi
 */
export type SandboxRetryAfterForm = 'seconds' | 'http-date' | 'epoch-seconds' | 'epoch-ms';

/**
 * A create request as the sandbox understood it, from either body shape.
 *
 * @publicApi
 */
export interface SandboxCreateRequest {
  action: string;
  authentication: string | null;
  /** `data.inputs` (reference body) or `input` (guide body). */
  inputs: Record<string, unknown>;
  callbackUrl: string | null;
  /** `reference` for `{"data": {...}}`, `guide` for the flat body. */
  bodyShape: 'reference' | 'guide';
}

/**
 * How a scripted run ends, and how the sandbox behaves around it.
 *
 * @publicApi
 */
export interface RunOutcome {
  status: ZapierTerminalStatus;
  /**
   * Sent as scripted in callbacks and reference-shaped polls; a guide-shaped poll sends an object
   * (the first element of an array).
   * @default []
   */
  results?: unknown[] | Record<string, unknown>;
  /** @default [] for success, one `user` error for error */
  errors?: ZapierRunError[];
  /**
   * Real milliseconds between the create and the run completing.
   * @default 20
   */
  delayMs?: number;
  /**
   * `deliver` once (with retries); `never` completes the run without calling back; `twice`
   * delivers two identical callbacks concurrently; `before-response` completes the run and holds
   * the create response until the callback delivery has been answered.
   * @default 'deliver'
   */
  callback?: 'deliver' | 'never' | 'twice' | 'before-response';
  /** The first N polls of this run answer 503. */
  failPolls?: number;
  /**
   * Answer the create with this HTTP status: a 2xx still returns the run id, anything else an
   * error envelope and no run, unless `createRunsAnyway` is set.
   * @default 200
   */
  createStatus?: number;
  /** With an error `createStatus`, execute the run anyway (the ambiguous timeout case). */
  createRunsAnyway?: boolean;
}

/**
 * Options of {@link ZapierSandbox.start}.
 *
 * @publicApi
 */
export interface ZapierSandboxOptions {
  /**
   * Bearer token the API requires; `null` accepts any request.
   * @default 'sandbox-token'
   */
  accessToken?: string | null;
  /**
   * Port to listen on, on 127.0.0.1.
   * @default 0 (a free port)
   */
  port?: number;
  /**
   * Kid of the first signing key.
   * @default 'sandbox-<8 hex>'
   */
  kid?: string;
  /** @default 'waiting' */
  pendingStyle?: SandboxPendingStyle;
  /** @default 'reference' */
  pollShape?: SandboxPollShape;
  /**
   * Runs older than this (sandbox clock) answer 404.
   * @default 7 days
   */
  retentionMs?: number;
  /**
   * Sliding 60 s window over API requests; the request that exceeds it gets 429 and starts a
   * cooldown during which every API request gets 429. `false` disables it. `retryAfter` is the
   * form of the 429's `Retry-After` header (see {@link SandboxRetryAfterForm}).
   * @default { perMinute: 60, cooldownMs: 60_000, retryAfter: 'seconds' }
   */
  rateLimit?: { perMinute: number; cooldownMs: number; retryAfter?: SandboxRetryAfterForm } | false;
  /**
   * Clock in milliseconds for run ages, retention, rate limits, token `iat`/`exp` and every
   * timestamp the sandbox records. Delays, backoff and timeouts use real timers.
   * @default Date.now
   */
  now?: () => number;
  /** Outcome of each created run, unless one was queued with `queueOutcome`. */
  outcome?: (request: SandboxCreateRequest) => RunOutcome;
  /**
   * Where callbacks really go, since the public HTTPS `callback_url` cannot be reached locally.
   * A string replaces the origin and path (the callback URL's query is kept unless the string
   * has one); a function maps each URL. Unset, callbacks go to `callback_url` itself.
   */
  callbackTarget?: string | ((callbackUrl: string) => string);
  /**
   * Per-attempt timeout of a callback delivery, in milliseconds.
   * @default 5000
   */
  deliveryTimeoutMs?: number;
  /**
   * First backoff between delivery attempts, doubled after each failure (250, then 500).
   * @default 250
   */
  retryBaseDelayMs?: number;
  /** Called with each API request once it is answered (JWKS requests excluded). */
  onRequest?: (request: SandboxRequestRecord) => void;
  /** Called with each callback delivery attempt once it ended. */
  onDelivery?: (delivery: SandboxDelivery) => void;
}

/**
 * One callback delivery attempt.
 *
 * @publicApi
 */
export interface SandboxDelivery {
  runId: string;
  /** 1 to 3. */
  attempt: number;
  url: string;
  /** HTTP status of the answer, absent after a network error or timeout. */
  status?: number;
  error?: string;
  /** Sandbox clock, milliseconds. */
  startedAt: number;
  finishedAt: number;
}

/**
 * One request to the sandbox API (JWKS requests are only counted, in `jwksRequests`).
 *
 * @publicApi
 */
export interface SandboxRequestRecord {
  method: string;
  path: string;
  status: number;
  /** Sandbox clock, milliseconds. */
  at: number;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body?: unknown;
  /** The run created (a create answered 2xx) or polled. */
  runId?: string;
}

/**
 * A snapshot of one run, from {@link ZapierSandbox.run}.
 *
 * @publicApi
 */
export interface SandboxRun {
  id: string;
  request: SandboxCreateRequest;
  outcome: RunOutcome;
  status: 'pending' | ZapierTerminalStatus;
  /** Sandbox clock, milliseconds. */
  createdAt: number;
  completedAt: number | null;
  /** GET requests answered for this run, 503s from `failPolls` included. */
  polls: number;
  deliveries: SandboxDelivery[];
}
