/**
 * Where the Zapier access token comes from: a string, or a function called before each request
 * batch (sync or async), so tokens can be refreshed. After a 401 from Zapier a function is asked
 * once more before the module gives up (docs/decisions.md#d12).
 *
 * @publicApi
 */
export type ZapierAccessTokenSource = string | (() => string | Promise<string>);

/**
 * The polling fallback: runs whose callback is overdue are read with `GET /v2/action-runs/{id}`.
 *
 * @publicApi
 */
export interface ZapierPollingOptions {
  /**
   * Turn the poller off (the client still records runs; callbacks still complete them).
   * @default true
   */
  enabled?: boolean;
  /**
   * How often the poller looks for overdue runs. A tick that finds work keeps sending, within the
   * budget, until nothing is due; ticks never overlap.
   * @default 10000
   */
  intervalMs?: number;
  /**
   * How long after submission a run without a callback counts as overdue. Actions running over
   * 45 s call back late by design, so this is minutes, not seconds (docs/decisions.md#d13).
   * @default 300000 (5 minutes)
   */
  overdueAfterMs?: number;
  /**
   * Requests per rolling minute the module may send to Zapier, shared by the poller and the
   * client's own create calls, across every app instance on the same database. Zapier allows 60
   * per minute per IP and 150 per minute per partner.
   * @default 50
   */
  maxRequestsPerMinute?: number;
  /**
   * First gap between two polls of a run that is still pending; doubles after each poll, with
   * ±20% jitter.
   * @default 60000
   */
  initialBackoffMs?: number;
  /**
   * Largest gap between two polls of one run.
   * @default 1800000 (30 minutes)
   */
  maxBackoffMs?: number;
  /**
   * How long Zapier keeps a run; an unresolved run older than this is expired.
   * @default 604800000 (7 days)
   */
  retentionMs?: number;
  /**
   * A 404 for a run younger than this is retried later instead of expiring the run.
   * @default 600000 (10 minutes)
   */
  notFoundGraceMs?: number;
  /**
   * Pause after a 429 that names no wait (`Retry-After` / `X-RateLimit-Reset`).
   * @default 60000
   */
  cooldownMs?: number;
  /**
   * Longest pause after a 429, whatever `Retry-After` or `X-RateLimit-Reset` asks for: a longer
   * wait is cut to this before it is stored, so a broken or hostile header (an epoch in ms read as
   * seconds means thousands of years) can never stop every instance for longer. 15 minutes is
   * fifteen of Zapier's 60 s windows: far above the documented 60 s cooldown and any real
   * `Retry-After`, yet short enough that a bad value costs minutes, not a day. An integer of at
   * least 60000 (one window) and at least `cooldownMs`.
   * @default 900000 (15 minutes)
   */
  maxCooldownMs?: number;
  /**
   * Pause after Zapier answers 401 or 403 to a poll; the error is logged once per pause.
   * @default 60000
   */
  authErrorPauseMs?: number;
  /**
   * How long an instance's claim on a run it is polling lasts without renewal. The instance
   * renews it while it waits for a budget slot and for Zapier's answer, so only a dead
   * instance's claims run out, and its runs are polled by another instance after this long.
   * @default 30000
   */
  leaseMs?: number;
}

/**
 * Delivery of events to `@OnEvent` listeners, with the run row as the outbox.
 *
 * @publicApi
 */
export interface ZapierDeliveryOptions {
  /**
   * How often undelivered events (a listener threw, the process died) are looked for.
   * @default 5000
   */
  sweepIntervalMs?: number;
  /**
   * How long an instance's claim on a delivery lasts without renewal; an instance renews the
   * claims it is still working on, so only a dead instance's claims run out.
   * @default 30000
   */
  leaseMs?: number;
  /**
   * Delivery attempts before a run is parked as undeliverable (see `ZapierRunsService`).
   * @default 10
   */
  maxAttempts?: number;
  /**
   * Wait before the second attempt; doubles for each later one, with ±20% jitter.
   * @default 5000
   */
  retryBaseDelayMs?: number;
  /**
   * Largest wait between two attempts.
   * @default 600000 (10 minutes)
   */
  maxRetryDelayMs?: number;
  /**
   * Deliveries one instance runs at the same time.
   * @default 64
   */
  concurrency?: number;
  /**
   * How long one delivery attempt may take: the time from emitting the event until every
   * listener has returned. An attempt still running then counts as failed: its slot and its claim
   * are given up, a warning names the listeners that have not returned, and the run is retried
   * with the backoff above (parked after `maxAttempts`), by this instance or another one.
   *
   * A listener's promise cannot be cancelled: a listener that timed out keeps running, and if it
   * finishes later, the retry may deliver the same event again (at least once; dedupe on
   * `runId`). Its late result changes nothing stored. A listener that blocks the event loop
   * (synchronous work that never yields) cannot be timed out at all; its instance's claims then
   * run out after `leaseMs`, as if the instance had died.
   *
   * Twice the default `leaseMs` and `requestTimeoutMs`: room for a listener that makes a couple of
   * calls to other services (or to Zapier through `ZapierClient`) with their own timeouts, while a
   * hung one holds its slot for at most a minute. At most 2147483647 (about 24.8 days), the
   * longest delay a Node.js timer takes.
   * @default 60000
   */
  timeoutMs?: number;
}

/**
 * How the module's own SQL statements run. The host's connections and sessions are left as they
 * are: on PostgreSQL the module borrows pooled connections and changes none of their settings; on
 * a SQLite file it opens a connection of its own (see `sqliteBusyTimeoutMs`).
 *
 * @publicApi
 */
export interface ZapierStorageOptions {
  /**
   * PostgreSQL: longest time one of the module's statements may take, waiting for a pooled
   * connection and for locks included. Past it the statement is cancelled on the server
   * (`pg_cancel_backend`) and fails: a callback is answered 503 (Zapier retries it), the poller
   * and the delivery sweep try again on their next round. So a locked or hung database cannot
   * pile up requests.
   * @default 10000
   */
  statementTimeoutMs?: number;
  /**
   * SQLite: how long one of the module's statements keeps trying while another connection (a
   * host transaction, another process) holds the write lock, before it fails like a timed-out
   * statement above. The wait is a series of short asynchronous sleeps, never SQLite's own
   * blocking busy timeout, so the app keeps serving other requests meanwhile.
   * @default 1000
   */
  sqliteBusyTimeoutMs?: number;
}

/**
 * How long the module keeps its rows. Pruning runs on every instance every `intervalMs`, in
 * batches of `batchSize` rows per statement (short locks; instances pruning at once delete
 * each row once), and logs what it removed. `ZapierRunsService.prune()` runs it on demand.
 *
 * @publicApi
 */
export interface ZapierRetentionOptions {
  /**
   * Turn scheduled pruning off (`ZapierRunsService.prune()` still works).
   * @default true
   */
  enabled?: boolean;
  /**
   * How often pruning runs.
   * @default 3600000 (1 hour)
   */
  intervalMs?: number;
  /**
   * Completed runs (success or error) whose event was delivered, counted from the delivery. At
   * least `polling.retentionMs` (Zapier's own 7 days): a late retry of a callback for a pruned
   * run would otherwise be taken for a new run.
   * @default 2592000000 (30 days)
   */
  deliveredMs?: number;
  /**
   * Expired runs whose `zapier.run.expired` was delivered, counted from the delivery; at least
   * `polling.retentionMs` too.
   * @default 2592000000 (30 days)
   */
  expiredMs?: number;
  /**
   * Parked runs (delivery parked after `delivery.maxAttempts`, or a polled result that could
   * not be stored), counted from when they were parked. `null` keeps them until they are
   * re-driven (`redeliver`, `repoll`), after which the retention above applies.
   * @default null
   */
  parkedMs?: number | null;
  /**
   * Quarantined callback bodies, counted from their arrival.
   * @default 604800000 (7 days)
   */
  quarantineMs?: number;
  /**
   * Rows deleted per statement.
   * @default 500
   */
  batchSize?: number;
}

/**
 * JWKS fetching and caching for callback verification.
 *
 * @publicApi
 */
export interface ZapierJwksOptions {
  /**
   * Timeout of one JWKS request.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Age after which the key set is refreshed in the background. A failed refresh keeps the keys
   * already known (stale-if-error), so a JWKS outage does not reject callbacks.
   * @default 600000 (10 minutes)
   */
  cacheMaxAgeMs?: number;
  /**
   * Least time between two fetches of the JWKS, whatever caused them (a cold start, a token
   * naming an unknown `kid` after a key rotation, a refresh), so a flood of callbacks or random
   * kids cannot hammer the JWKS endpoint. It is also the first wait after a failed fetch, which
   * doubles with each further failure up to `maxBackoffMs` (±20% jitter). `0` turns both off.
   * @default 1000
   */
  minRefetchIntervalMs?: number;
  /**
   * Longest wait after failed fetches before the JWKS is fetched again. While waiting with no
   * usable key, callbacks are answered 503 at once (Zapier retries them) without a fetch;
   * known keys keep verifying (stale-if-error).
   * @default 30000
   */
  maxBackoffMs?: number;
}

/**
 * How deep and how large a run's result may be, as parsed JSON. A result beyond them is not
 * stored: JSON this deep cannot be serialised again (the stack overflows), and one this large
 * would hold the run store up for every other run.
 *
 * @publicApi
 */
export interface ZapierResultLimits {
  /**
   * Most levels of nested arrays and objects in a result (`[]` and `{}` are one level, `[[1]]`
   * two). An integer from 1 to 1000.
   * @default 64
   */
  maxDepth?: number;
  /**
   * Most values in a result, containers and scalars alike (object keys are not counted).
   * @default 1000000
   */
  maxValues?: number;
}

/**
 * Options of `ZapierModule.forRoot()`, or what `forRootAsync()`'s factory returns.
 *
 * @publicApi
 */
export interface ZapierModuleOptions {
  /** Zapier access token, needed by `ZapierClient` and the poller. */
  accessToken?: ZapierAccessTokenSource;
  /**
   * Base URL of Zapier's API.
   * @default 'https://api.zapier.com'
   */
  apiBaseUrl?: string;
  /**
   * Where Zapier publishes the keys that sign callbacks.
   * @default 'https://zapier.com/.well-known/jwks.json'
   */
  jwksUrl?: string;
  /**
   * The public HTTPS URL Zapier should call back, used by `ZapierClient.createActionRun()` when a
   * call names none. It must reach this app's callback route.
   */
  callbackUrl?: string;
  /** Expected `iss` claim of callback tokens; checked only when set. */
  issuer?: string | string[];
  /** Expected `aud` claim of callback tokens; checked only when set. */
  audience?: string | string[];
  /**
   * Clock skew allowed when checking `exp` and `iat`, in seconds.
   * @default 30
   */
  clockToleranceSeconds?: number;
  /**
   * Signing algorithms accepted for callback tokens.
   * @default ['RS256']
   */
  algorithms?: string[];
  /** JWKS fetching and caching. */
  jwks?: ZapierJwksOptions;
  /**
   * Largest callback body accepted, in bytes. Zapier never retries a 413, so this is generous.
   * @default 20971520 (20 MiB)
   */
  callbackBodyLimit?: number;
  /**
   * Memory that all callbacks being read and stored at once may hold, in bytes: their decoded
   * bodies plus an estimate of 64 bytes per JSON element (what parsing costs beyond the bytes).
   * Beyond it a signed callback is answered 503 and Zapier retries it later; the process never
   * runs out of memory on callbacks. Unsigned requests hold nothing: their body is never read.
   * @default 100663296 (96 MiB: a 20 MiB body of a million elements needs 84 MiB)
   */
  callbackMemoryLimit?: number;
  /**
   * Timeout of one request to Zapier's API.
   * @default 30000
   */
  requestTimeoutMs?: number;
  /**
   * Largest response body read from Zapier's API, in bytes; a longer one fails the request with
   * `ZapierApiError` and nothing of it is stored. A polled run carries the same results as its
   * callback, so this matches `callbackBodyLimit`.
   * @default 20971520 (20 MiB)
   */
  responseBodyLimit?: number;
  /**
   * Limits on a run's results (and errors), from a callback or a poll. A callback's body is
   * measured as it streams in, before it is parsed: beyond them it gets 400 and is quarantined
   * with what was read. A polled run whose result exceeds them is parked with the reason instead
   * of stored (see `ZapierRunsService.findUnstorable()`), and the poller goes on with the others.
   */
  resultLimits?: ZapierResultLimits;
  /**
   * Body shape of `POST /v2/action-runs/`: the API reference's `{ data: { ..., inputs } }`
   * (default) or, as a fallback, the guides' flat `{ ..., input }` (docs/decisions.md#d1).
   * @default 'reference'
   */
  createBodyShape?: 'reference' | 'flat';
  /** The polling fallback. */
  polling?: ZapierPollingOptions;
  /** Event delivery to listeners. */
  delivery?: ZapierDeliveryOptions;
  /** How the module's SQL statements run: timeouts, SQLite's write lock. */
  storage?: ZapierStorageOptions;
  /** How long runs and quarantined bodies are kept. */
  retention?: ZapierRetentionOptions;
  /**
   * Name of this app instance in claims and logs.
   * @default '<hostname>:<pid>:<random>'
   */
  instanceId?: string;
}

/**
 * Settings that shape the module graph, so they are known at import time: with
 * `forRootAsync()` they sit next to `useFactory`, not in what it returns.
 *
 * @publicApi
 */
export interface ZapierModuleExtras {
  /**
   * Route of the callback endpoint, under the app's global prefix.
   * @default 'zapier/callbacks'
   */
  callbackPath?: string;
  /**
   * Register the callback controller. Set `false` to mount your own route at `callbackPath` with
   * the exported `ZapierSignatureGuard` and `ZapierCallbackService.receive()`; the module's body
   * reader still serves that path.
   * @default true
   */
  registerController?: boolean;
  /**
   * Class decorators applied to the module's callback controller, for the host's global guards:
   * for example `[Public()]` for a global auth guard that skips routes so marked, and
   * `[SkipThrottle()]` for `@nestjs/throttler`. Zapier answers a 4xx by giving up, so a global
   * guard must let its callbacks through; the signature guard still runs.
   * @default []
   */
  controllerDecorators?: ClassDecorator[];
  /**
   * Name of the TypeORM data source to store runs in.
   * @default 'default'
   */
  dataSource?: string;
  /**
   * Make the module's providers (`ZapierClient`, `ZapierRunsService`) visible app-wide.
   * @default false
   */
  isGlobal?: boolean;
}
