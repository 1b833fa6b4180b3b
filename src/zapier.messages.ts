import { safeForLog } from './common/safe-for-log.js';

/**
 * Every message the module logs or throws, as factories so that specs assert against the same
 * text. Each says what happened, the value involved, and how to fix it. A factory takes only the
 * values it interpolates; the problems listed in a refused callback or input are fragments, joined
 * into the sentence that reports them. Every value that can come from outside (a request, Zapier's
 * answers, a driver's or a listener's error) goes through `safeForLog()`, so that it cannot forge
 * or hide log lines; our own numbers, names and options do not.
 */
export const ZapierMessages = {
  // Options and the host's imports, checked at boot.
  /** Shows a secret's shape only (`accessToken` and the like), and at most 100 characters of JSON. */
  invalidOption: (path: string, value: unknown, expected: string) =>
    `ZapierModule option "${path}" is ${describe(path, value)}; expected ${expected}.`,
  extraFromFactory: (name: string) =>
    `ZapierModule option "${name}" shapes the module graph and cannot come from forRootAsync()'s factory; pass it next to useFactory: ZapierModule.forRootAsync({ ${name}: ..., useFactory }).`,
  missingEventEmitter: () =>
    'ZapierModule needs EventEmitter2, which nothing provides; add EventEmitterModule.forRoot() (from @nestjs/event-emitter) to your AppModule imports.',
  missingScheduler: () =>
    'ZapierModule needs SchedulerRegistry, which nothing provides; add ScheduleModule.forRoot() (from @nestjs/schedule) to your AppModule imports.',
  missingDataSource: (dataSource: string) =>
    `ZapierModule needs the TypeORM data source "${dataSource}", which nothing provides; add TypeOrmModule.forRoot()${dataSource === 'default' ? '' : ` with name: '${dataSource}'`} (from @nestjs/typeorm) to your AppModule imports.`,
  listenerMetadataUnknown: () =>
    'OnEvent() of the installed @nestjs/event-emitter does not name its metadata key (KEY), so ZapierModule cannot see whether its listeners failed; install @nestjs/event-emitter 3 (Nest 11) or 12 (Nest 12).',
  entitiesNotRegistered: (dataSource: string, missing: readonly string[]) =>
    `The TypeORM data source "${dataSource}" does not know the ${missing.join(', ')} ${missing.length === 1 ? 'entity' : 'entities'}; set autoLoadEntities: true in TypeOrmModule.forRoot(), or add ZAPIER_ENTITIES (ZapierActionRun, ZapierCallbackQuarantine, ZapierApiBudget) to its entities.`,

  // Storage.
  tableMissing: (table: string, cause: string) =>
    `Table "${table}" does not exist (${safeForLog(cause)}); run the migrations exported as ZAPIER_MIGRATIONS, or set synchronize: true for a quick start.`,
  unsupportedDatabase: (type: string) =>
    `ZapierModule stores runs in PostgreSQL, MySQL or MariaDB (type 'mysql' or 'mariadb', with mysql2), or SQLite (better-sqlite3); the data source is "${type}".`,
  mysqlTooOld: (version: string) =>
    `The database server is ${safeForLog(version)}; ZapierModule needs MySQL 8.0 or MariaDB 10.6 or later, whose SELECT ... FOR UPDATE SKIP LOCKED keeps two instances from claiming the same work. Upgrade the server.`,
  mysqlRunIdCollation: (collation: string) =>
    `Column zapier_action_runs.run_id has the case-insensitive collation ${safeForLog(collation)}, so two runs whose ids differ only in case would be stored as one; create the tables with ZAPIER_MIGRATIONS (synchronize cannot choose a collation), or give the column a binary collation such as utf8mb4_bin.`,
  mysqlNarrowColumns: (columns: readonly string[]) =>
    `Columns ${columns.map(safeForLog).join(', ')} hold at most 64 KB (TEXT), so larger callbacks and results would be refused; create the tables with ZAPIER_MIGRATIONS and keep synchronize off (it makes TEXT of them), or change these columns to LONGTEXT.`,
  mysqlPacketLimit: (maxAllowedPacket: number, callbackBodyLimit: number) =>
    `The server's max_allowed_packet is ${megabytes(maxAllowedPacket)}, so callbacks larger than about ${megabytes(maxAllowedPacket / 3)} cannot be stored (its statement carries the body and its parsed results, escaped; callbackBodyLimit is ${megabytes(callbackBodyLimit)}); raise max_allowed_packet to ${megabytes(3 * callbackBodyLimit)} or lower callbackBodyLimit.`,
  mysqlNotStrict: (sqlMode: string) =>
    `The sql_mode of the module's connections (${safeForLog(sqlMode)}) is not strict, so the server would cut a value too long for its column (a run id, a result) instead of refusing it; add STRICT_TRANS_TABLES to the server's sql_mode.`,
  mysqlNotDurable: (flushLog: number) =>
    `The server's innodb_flush_log_at_trx_commit is ${flushLog}, so commits are acknowledged before they are on disk and a run answered 2xx could be lost in a crash; set it to 1.`,
  sqliteDurabilitySet: (level: number) =>
    `SQLite's synchronous pragma was ${level}; the module set it to FULL (2), so that a 2xx to Zapier always means a commit that survives a power loss.`,
  sqliteWalEnabled: (mode: string) =>
    `The SQLite database was in ${safeForLog(mode)} journal mode; the module switched it to WAL (a lasting property of the file), so that its own connection and the host's can read while the other writes.`,
  sqliteMemoryShared: () =>
    'The SQLite database is ":memory:", which no second connection can open, so the module runs its statements on the host\'s connection: a transaction the host holds open there carries the module\'s writes with it, so a 2xx no longer always means a commit. Use a database file outside tests.',
  statementTimedOut: (timeoutMs: number) =>
    `A statement of the module ran longer than storage.statementTimeoutMs (${timeoutMs} ms) and was cancelled; if the database is merely slow rather than locked or hung, raise that option.`,
  statementKillFailed: (threadId: number, cause: string) =>
    `Could not kill the connection (thread ${threadId}) running the module's timed-out statement (${safeForLog(cause)}); the statement goes on until it ends or the server's own limits stop it.`,
  statementCancelFailed: (processId: number, cause: string) =>
    `Could not cancel the module's timed-out statement on PostgreSQL backend ${processId} (${safeForLog(cause)}); it goes on until it ends or the database's own limits stop it.`,
  storageCheckFailed: (cause: string) =>
    `Could not check the module's tables at startup (${safeForLog(cause)}); callbacks are answered 503 until the database answers.`,
  storageUnavailable: () => 'The run store is unavailable; Zapier will retry this callback.',
  storageBusy: () =>
    'The run store is behind (too many results wait to be written); Zapier will retry this callback.',
  writeQueueFull: (queued: number, limit: number) =>
    `${queued} writes already wait for the database (at most ${limit}, or their total size); it is slow or not answering, so this one was refused without being queued.`,
  /** `reason` is one of the two fragments below. */
  valueRefused: (reason: string) =>
    `The run store refused this result because ${reason}; storing it again would fail the same way.`,
  valueNotSerialisable: (cause: string) => `it cannot be serialised as JSON (${safeForLog(cause)})`,
  valueRefusedByDatabase: (code: string, cause: string) =>
    `the database refused a value in it (${safeForLog(code)}: ${safeForLog(cause)})`,
  /** A dependency that starts failing (`what`: the work that failed), logged once per outage. */
  outageStarted: (what: string, reason: string) =>
    `${what} failed (${safeForLog(reason)}); retrying with backoff, and logged once until it works again.`,
  outageEnded: (what: string) => `${what} works again.`,

  // The callback's signature and Zapier's signing keys.
  signatureMissing: () =>
    'Rejected a callback without a Zapier-Callback-Signature header; Zapier signs every callback, so if this one came from Zapier, make sure the proxies in front of the app pass that header on.',
  signatureRejected: (code: string) =>
    `Rejected a callback whose Zapier-Callback-Signature does not verify (${safeForLog(code)}); if Zapier's own callbacks get this, check the issuer, audience, algorithms and clockToleranceSeconds options.`,
  /** The 401's body, sent to the caller: `reason` is jose's error code or `missing`. */
  invalidSignature: (reason: string) =>
    `Invalid Zapier-Callback-Signature (${safeForLog(reason)}).`,
  keysUnavailable: () =>
    "Zapier's signing keys could not be fetched; Zapier will retry this callback.",
  /** Why a key fetch failed; becomes the `reason` of the two messages below. */
  jwksStatus: (status: number) => `the JWKS endpoint answered HTTP ${status}`,
  jwksTooLarge: (limit: number) => `the JWKS response was larger than ${limit} bytes`,
  keysFetchFailed: (url: string, reason: string) =>
    `Could not fetch Zapier's signing keys from ${url} (${safeForLog(reason)}); callbacks are answered 503 until it works, so check that the jwksUrl option is reachable from this host.`,
  keysRefreshFailed: (url: string, reason: string) =>
    `Could not refresh Zapier's signing keys from ${url} (${safeForLog(reason)}); keeping the keys already known, so check that the jwksUrl option is reachable from this host before Zapier rotates its keys.`,
  keysReachableAgain: (url: string) => `Zapier's signing keys are reachable again at ${url}.`,

  warningsSkipped: (count: number) => `(${count} more like it in the last minute were not logged.)`,

  // Callbacks: refused, quarantined, answered.
  /** The 413's body, sent to the caller. */
  callbackBodyTooLarge: (bytes: number, limit: number) =>
    `Callback body of ${bytes} bytes exceeds the limit of ${limit} bytes (option callbackBodyLimit).`,
  callbackRefused: (bytes: number, limit: number) =>
    `Refused a callback of ${bytes} bytes (callbackBodyLimit is ${limit}); the run stays pending for the poller, so raise callbackBodyLimit if results this large are expected.`,
  /** The 413's body for a compression bomb. */
  bodyBrotliWindow: (bits: number | null, maxBits: number) =>
    bits === null
      ? `Callback body asks for brotli's large-window extension; callbacks are decoded with windows of at most ${2 ** maxBits / 1024 / 1024} MiB.`
      : `Callback body is brotli-compressed with a window of ${2 ** bits / 1024 / 1024} MiB; at most ${2 ** maxBits / 1024 / 1024} MiB is accepted (brotli's default).`,
  bodyCompressionRatio: (ratio: number) =>
    `Callback body inflates more than ${ratio} times its compressed size; no real callback does.`,
  /** The 503's body when the callbacks being read hold the whole memory budget. */
  callbackMemorySpent: () =>
    'Too many large callbacks are being read at once (option callbackMemoryLimit); retry later.',
  /** The 413's body for a callback that alone needs more than the whole memory budget. */
  callbackOverMemoryLimit: (limit: number) =>
    `Callback needs more than the ${limit} bytes of memory callbacks may hold (option callbackMemoryLimit).`,
  callbackMemoryRefused: () =>
    'Answered 503 to a signed callback because the callbacks being read hold all of callbackMemoryLimit; Zapier retries it, but raise callbackMemoryLimit if this repeats.',
  callbackRefusedBody: (reason: string) =>
    `Refused a signed callback: ${reason} The run stays pending for the poller.`,
  /** The 400's body, sent to the caller: `problems` joined with `; `. */
  invalidCallback: (problems: string) => `Not a Zapier action-run callback: ${problems}.`,
  callbackQuarantined: (bytes: number, reason: string) =>
    `Quarantined a signed callback of ${bytes} bytes (${safeForLog(reason)}); the run stays pending for the poller, and the body is kept in the zapier_callback_quarantine table for inspection.`,
  runCallbackQuarantined: (runId: string, bytes: number, reason: string) =>
    `Quarantined a signed callback for run ${safeForLog(runId)} of ${bytes} bytes (${safeForLog(reason)}); the run stays pending for the poller, and the body is kept in the zapier_callback_quarantine table for inspection.`,

  // Problems with a callback's body, joined into invalidCallback() and the quarantine reason.
  bodyEmpty: () => 'the body is empty',
  bodyNotJsonType: (contentType: string) => `content type "${safeForLog(contentType)}" is not JSON`,
  bodyCharset: (charset: string) => `charset "${safeForLog(charset)}" is not UTF-8`,
  bodyEncoding: (encoding: string) => `content encoding "${safeForLog(encoding)}" is not supported`,
  bodyUnreadable: (cause: string) => `the body could not be read: ${safeForLog(cause)}`,
  bodyInvalidJson: (cause: string) => `the body is not valid JSON (${safeForLog(cause)})`,
  bodyAborted: () => 'the request ended before its body did',
  bodyTooDeep: (maxDepth: number) =>
    `the body nests deeper than ${maxDepth} levels (its results deeper than option resultLimits.maxDepth)`,
  bodyTooManyValues: (maxValues: number) =>
    `the body holds more than ${maxValues} elements (option resultLimits.maxValues)`,
  bodyUnparsable: (cause: string) => `the body could not be parsed (${safeForLog(cause)})`,
  bodyNotObject: () => 'the body is not a JSON object',
  dataNotObject: () => 'data must be an object',
  runIdMissing: () => 'data.id is missing (Zapier sends the run id as data.id or data.run_id)',
  runIdMalformed: (field: string, maxLength: number) =>
    `data.${field} must be a non-empty string of at most ${maxLength} characters, without control characters`,
  dataTooDeep: (maxDepth: number) => `data nests deeper than ${maxDepth} levels`,
  errorsNotObjects: () => 'data.errors must be an array of objects',
  /** A signed callback the database refused (`reason` from valueRefused's fragments). */
  callbackRefusedByStore: (reason: string) => `its result cannot be stored, since ${reason}`,
  callbackNotKept: (runId: string | null, reason: string) =>
    `Could not quarantine a refused callback${runId === null ? '' : ` for run ${safeForLog(runId)}`} either, because ${safeForLog(reason)}; it was answered 400 (a retry would be refused the same way), and the run stays pending for the poller.`,

  // Limits on parsed JSON values (option resultLimits), as fragments naming what exceeded them.
  jsonTooDeep: (what: string, maxDepth: number) =>
    `${what} nests deeper than ${maxDepth} levels (option resultLimits.maxDepth)`,
  jsonTooManyValues: (what: string, maxValues: number) =>
    `${what} holds more than ${maxValues} values (option resultLimits.maxValues)`,

  // The client: creating and reading runs through Zapier's API.
  missingAccessToken: () =>
    'ZapierClient needs an access token; set the accessToken option of ZapierModule.forRoot().',
  missingCallbackUrl: () =>
    'No callback URL: pass callbackUrl to createActionRun() or set the callbackUrl option of ZapierModule.forRoot().',
  /** `problems` are the fragments below, joined with `; `. */
  invalidCreateInput: (problems: string) =>
    `createActionRun() sent nothing because its input is invalid (${problems}); pass an object shaped as CreateActionRunInput.`,
  createActionInvalid: () => 'action must be a non-empty string',
  createAuthenticationInvalid: () => 'authentication must be a string or null',
  createInputsInvalid: () => 'inputs must be an object',
  createMetadataInvalid: () => 'metadata must be a JSON object',
  createRunIdMalformed: (status: number, maxLength: number) =>
    `Zapier answered ${status} to the create call with a run id that is not a string of at most ${maxLength} characters without control characters, so it was not recorded; the run may have started anyway, so check Zapier's side before starting it again.`,
  createWithoutRunId: (status: number) =>
    `Zapier answered ${status} to the create call without a run id; the run may have started anyway, so check Zapier's side before starting it again.`,
  /** `detail` is Zapier's own error text, or empty when its answer had none. */
  apiErrorStatus: (method: string, path: string, status: number, detail: string) =>
    `${method} ${safeForLog(path)}: Zapier answered ${status}${detail ? ` (${safeForLog(detail)})` : ''}.`,
  noResponse: (method: string, path: string, reason: string) =>
    `${method} ${safeForLog(path)}: no response from Zapier (${safeForLog(reason)}); check that the apiBaseUrl option is reachable from this host within requestTimeoutMs.`,
  apiResponseTooLarge: (method: string, path: string, status: number, limit: number) =>
    `${method} ${safeForLog(path)}: Zapier answered ${status} with a body larger than ${limit} bytes, which was not read; raise the responseBodyLimit option if results this large are expected.`,
  runNotRecorded: (runId: string) =>
    `Zapier started run ${safeForLog(runId)}, but it could not be recorded locally, so do not start it again: its result will still arrive, without its metadata.`,
  unknownRunStatus: (status: string, runId: string) =>
    `Zapier reported the unknown status "${safeForLog(status)}" (run ${safeForLog(runId)}); treating it as pending until it reports success or error.`,
  rateLimited: (seconds: number) =>
    `Zapier answered 429, so no instance sends a request for ${seconds} s; lower polling.maxRequestsPerMinute if this keeps happening.`,
  cooldownCapped: (askedSeconds: number, seconds: number) =>
    `Zapier answered 429 and asked for a wait of ${askedSeconds} s, more than polling.maxCooldownMs allows, so no instance sends a request for ${seconds} s; raise polling.maxCooldownMs only if Zapier really means that wait.`,
  rateLimitedCreate: (method: string, path: string, waitMs: number, requestTimeoutMs: number) =>
    `${method} ${path} was not sent: the request budget has no slot for ${waitMs} ms (a 429 cooldown or a queue), longer than requestTimeoutMs (${requestTimeoutMs} ms); retry after error.retryAfterMs, or lower the rate of create calls.`,

  // The poller and the life of a run.
  accessTokenRefused: (status: number, seconds: number) =>
    `Zapier refused the access token (${status}), so polling pauses for ${seconds} s; check the accessToken option.`,
  pruned: (counts: string) => `Pruned ${counts} (retention options).`,
  runsExpired: (count: number, retentionMs: number) =>
    `${count} run(s) expired without a result, older than Zapier's retention (polling.retentionMs, ${retentionMs} ms); each gets a zapier.run.expired event.`,
  runExpiredNotFound: (runId: string) =>
    `Run ${safeForLog(runId)} expired because Zapier no longer knows it (404); it gets a zapier.run.expired event.`,
  pollResultParked: (runId: string, reason: string) =>
    `Run ${safeForLog(runId)}: Zapier's result could not be stored (${safeForLog(reason)}), so the poller parked it and goes on with the other runs; it is listed by ZapierRunsService.findUnstorable(), and once the cause is fixed (a larger resultLimits, for instance) poll it again with ZapierRunsService.repoll('${safeForLog(runId)}').`,
  conflictingResult: (runId: string, stored: string, source: string, status: string) =>
    `Run ${safeForLog(runId)} is already ${stored}; ignored a later ${source} saying ${safeForLog(status)}, since the first result stays.`,
  duplicateResult: (source: string, runId: string) =>
    `Duplicate ${source} result for run ${safeForLog(runId)} absorbed.`,

  // Delivering a run's event to the host's listeners.
  deliveryCutShort: (runId: string, attempts: number) =>
    `Run ${safeForLog(runId)}: delivery was cut short ${attempts} times (the process stopped mid-delivery), so it is parked as undeliverable; re-drive it with ZapierRunsService.redeliver('${safeForLog(runId)}').`,
  deliveryParked: (runId: string, attempts: number, error: string) =>
    `Run ${safeForLog(runId)}: listeners failed ${attempts} times (last: ${safeForLog(error)}), so it is parked as undeliverable; re-drive it with ZapierRunsService.redeliver('${safeForLog(runId)}').`,
  deliveryRetrying: (runId: string, attempt: number, error: string, seconds: number) =>
    `Run ${safeForLog(runId)}: a listener failed on attempt ${attempt} (${safeForLog(error)}); retrying in ${seconds} s.`,
  /** `listeners`: the `Class.method()` names of the module's code, not from outside. */
  deliveryTimedOut: (
    runId: string,
    attempt: number,
    timeoutMs: number,
    listeners: readonly string[],
  ) =>
    `Run ${safeForLog(runId)}: attempt ${attempt} was still running after ${timeoutMs} ms (delivery.timeoutMs), in ${listenerNames(listeners)}; it counts as failed and its claim is given up. The listener cannot be stopped and keeps running, so a retry may deliver the event again; have it return sooner (give its own calls a timeout), or raise delivery.timeoutMs.`,
  /** Stored as the delivery's last error of an attempt that ran out of time. */
  deliveryTimeoutError: (timeoutMs: number, listeners: readonly string[]) =>
    `timed out after ${timeoutMs} ms (delivery.timeoutMs) in ${listenerNames(listeners)}`,
  /** Stored as the delivery's last error of a run whose deliverer stopped mid-delivery. */
  deliveryInterrupted: () => 'the instance delivering it stopped before its listeners finished',
  suppressedListener: (listener: string, event: string) =>
    `${listener} listens to "${event}" with suppressErrors: true, so its failures are logged but counted as delivered; remove the option to have failed deliveries retried.`,
  sharedListener: (listener: string, pattern: string, event: string) =>
    `${listener} listens to ${pattern}, which matches "${event}" but also events that are not the module's, so the module leaves it as it is and its failures are logged but counted as delivered; listen to the zapier event names explicitly (@OnEvent('${event}')), or set suppressErrors: false on it yourself if you accept that for all its events.`,
  asyncListener: (listener: string, event: string) =>
    `${listener} listens to "${event}" with async: true, so the module cannot wait for it and counts the event delivered once it starts; remove the option to have failed deliveries retried.`,

  // Health checks (nestjs-zapier/terminus): why an indicator is down, one fragment per problem.
  healthDatabaseUnreachable: (cause: string) =>
    `the database does not answer (${safeForLog(cause)}); callbacks get 503 until it does`,
  healthNoKeys: (cause: string | null) =>
    `no signing key of Zapier's is loaded${cause === null ? '' : ` (${safeForLog(cause)})`}; callbacks get 503 until the JWKS answers`,
  healthKeysOld: (ageMs: number, maxMs: number) =>
    `Zapier's signing keys were fetched ${seconds(ageMs)} ago, more than maxKeyAgeMs (${seconds(maxMs)}); known keys still verify, a rotated one would not`,
  healthOverdue: (runs: number, ageMs: number, maxMs: number) =>
    `the oldest of ${runs} overdue runs was started ${seconds(ageMs)} ago, more than maxOverdueAgeMs (${seconds(maxMs)})`,
  healthParked: (runs: number, max: number) =>
    `${runs} runs are parked, more than maxParkedRuns (${max}); list them with nestjs-zapier runs list --state parked`,
  healthBacklog: (events: number, max: number) =>
    `${events} events wait for delivery, more than maxDeliveryBacklog (${max})`,
  healthCooldown: (remainingMs: number) =>
    `Zapier answered 429: requests to it are paused for another ${seconds(remainingMs)}`,
  healthTimedOut: (timeoutMs: number) => `the checks took longer than timeoutMs (${timeoutMs} ms)`,

  // callback_url, checked before anything is sent (`url` comes quoted, and shortened if long).
  callbackUrlTooLong: (url: string, length: number, maxLength: number) =>
    invalidCallbackUrl(
      'length',
      `${safeForLog(url)} is ${length} characters long, over Zapier's limit of ${maxLength}; shorten it, for example by keeping per-run state in the run's stored metadata instead of the query string.`,
    ),
  callbackUrlNotAbsolute: (url: string) =>
    invalidCallbackUrl(
      'syntax',
      `${safeForLog(url)} is not an absolute URL; pass a full URL such as https://api.example.com/zapier/callback.`,
    ),
  callbackUrlNotHttps: (url: string, protocol: string) =>
    invalidCallbackUrl(
      'https',
      `${safeForLog(url)} uses ${safeForLog(protocol)}, but Zapier calls back over HTTPS only; use an https:// URL (for local development, a tunnel such as cloudflared or ngrok).`,
    ),
  /** `embedded`: the IPv4 address an IPv6 host embeds (IPv4-mapped, NAT64, 6to4, ...). */
  callbackUrlPrivate: (url: string, host: string, embedded?: string) =>
    invalidCallbackUrl(
      'private-address',
      `${safeForLog(url)} points at ${safeForLog(host)}${embedded === undefined ? '' : ` (embedding ${embedded})`}, which is not a public address, and Zapier refuses those; use a public host name (for local development, a tunnel such as cloudflared or ngrok).`,
    ),
} as const;

/** The listeners that have not returned; only those `ZapierListenerInspector` tracks have names. */
function megabytes(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
}

function listenerNames(listeners: readonly string[]): string {
  return listeners.length > 0
    ? listeners.join(', ')
    : 'a listener the module cannot name (added without @OnEvent, or request-scoped)';
}

function invalidCallbackUrl(rule: string, problem: string): string {
  return `Invalid callback_url (rule "${rule}"): ${problem}`;
}

/** Option names whose values are never shown: `accessToken`, and any other token, key or secret. */
const SECRET_NAME = /token|secret|key|password|passphrase|credential/i;
/** A duration in whole seconds, for messages. */
const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

/** How much of an option's JSON a message shows. */
const MAX_DESCRIBED_LENGTH = 100;

function describe(path: string, value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'function') return 'a function';
  if (SECRET_NAME.test(path.split('.').at(-1) ?? path)) return describeSecret(value);
  let json: string | undefined;
  try {
    json = JSON.stringify(value, (key, inner: unknown) =>
      key !== '' && inner !== undefined && SECRET_NAME.test(key) ? describeSecret(inner) : inner,
    );
  } catch {
    return `an unserialisable ${typeof value}`;
  }
  return json === undefined ? typeof value : safeForLog(json, MAX_DESCRIBED_LENGTH);
}

/** A secret's shape without its content, so that a misplaced token never reaches a log. */
function describeSecret(value: unknown): string {
  if (typeof value === 'string') {
    if (value === '') return 'an empty string';
    const length = Array.from(value).length;
    const blank = value.trim() === '' ? 'blank ' : '';
    return `a ${blank}string of ${length} character${length === 1 ? '' : 's'}`;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
