/**
 * Error codes Zapier documents for a failed action run. `code` is an open string on the wire
 * (other values have been seen), so the type accepts any string while keeping the known ones
 * visible to editors.
 *
 * @publicApi
 */
export type ZapierRunErrorCode =
  | 'user'
  | 'authentication'
  | 'partner'
  | 'system'
  | 'throttled'
  | 'system_throttled'
  | 'hydration'
  | (string & NonNullable<unknown>);

/**
 * One item of an action run's `errors` array.
 *
 * @publicApi
 */
export interface ZapierRunError {
  code: ZapierRunErrorCode;
  title: string;
  detail: string;
  /** Seconds to wait before retrying, when the partner throttled the action. */
  delay?: number;
  /** Partner-specific extras, as Zapier sent them. */
  meta?: Record<string, unknown> | null;
}

/**
 * Status of a run as stored by the module: `pending` until a callback or a poll shows a terminal
 * status, `expired` when neither did before Zapier forgot the run.
 *
 * @publicApi
 */
export type ZapierRunStatus = 'pending' | 'success' | 'error' | 'expired';

/** Terminal statuses Zapier reports (docs/decisions.md#d3). @publicApi */
export type ZapierTerminalStatus = 'success' | 'error';

/** The results of a successful run, always as an array (an object result becomes one element). */
export type ZapierRunResults = Record<string, unknown>[];

/**
 * An action run as read from `GET /v2/action-runs/{id}`, parsed leniently (docs/decisions.md#f2).
 *
 * @publicApi
 */
export interface ActionRun {
  id: string;
  /** `pending` covers HTTP 202, `waiting`, `queued`, `running`, a missing and an unknown status. */
  status: 'pending' | ZapierTerminalStatus;
  /** The status string Zapier sent, or `null` when it sent none. */
  rawStatus: string | null;
  results: ZapierRunResults;
  errors: ZapierRunError[];
}

/**
 * The body Zapier POSTs to a callback URL (docs/decisions.md#f3): the polling shape plus `id`.
 *
 * @publicApi
 */
export interface ZapierCallbackPayload {
  data: {
    type: 'run';
    id: string;
    status: ZapierTerminalStatus;
    results: unknown[] | Record<string, unknown>;
    errors: ZapierRunError[];
  };
}

/** How a run's terminal state reached the module. @publicApi */
export type ZapierRunSource = 'callback' | 'poll';

/**
 * Where delivery of a run's event to listeners stands: `none` while there is nothing to deliver
 * (the run is pending), `pending` until every listener finished without throwing, `delivered`
 * after that, `parked` after too many failed attempts (see `ZapierRunsService.redeliver`).
 *
 * @publicApi
 */
export type ZapierDeliveryState = 'none' | 'pending' | 'delivered' | 'parked';

/**
 * Where a run stands as a whole, for the people looking after it (`ZapierRunsService.listRuns`,
 * the `nestjs-zapier runs list` command). Each run is in exactly one, the first that applies:
 * - `parked`: needs a person. Its event failed `delivery.maxAttempts` times (`redeliver`), or the
 *   poller could not store the result Zapier reported for it (`repoll`).
 * - `delivering`: its event waits for delivery to listeners, or for a retry after a failure.
 * - `expired`: nobody will learn its outcome (older than Zapier's retention, or unknown to it).
 * - `overdue`: no result yet, and its first poll came due (`polling.overdueAfterMs` after it was
 *   started): the callback is late, the poller is on it.
 * - `pending`: started, no result yet, not overdue.
 * - `delivered`: its event reached every listener.
 *
 * @publicApi
 */
export type ZapierRunState =
  'parked' | 'delivering' | 'expired' | 'overdue' | 'pending' | 'delivered';
