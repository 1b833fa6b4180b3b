import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { toCallbackPayload, type ZapierCallbackInput } from './callback-payload.js';
import { parseCreateRequest } from './parse-create-request.js';
import { SandboxActivity } from './sandbox-activity.js';
import { parseCallbackCommand, SANDBOX_CALLBACKS_PATH } from './sandbox-control.js';
import { deliverWithRetries } from './sandbox-callback-delivery.js';
import { errorEnvelope, readBody, send } from './sandbox-http.js';
import { SandboxRateLimiter, type RateLimitDecision } from './sandbox-rate-limiter.js';
import {
  callbackBody,
  completedPollBody,
  pendingPoll,
  snapshot,
  type SandboxRunState,
} from './sandbox-run-bodies.js';
import type {
  RunOutcome,
  SandboxCreateRequest,
  SandboxDelivery,
  SandboxJwksBehaviour,
  SandboxRequestRecord,
  SandboxRetryAfterForm,
  SandboxRun,
  ZapierSandboxOptions,
} from './zapier-sandbox.interfaces.js';
import { ZapierTestSigner, type ZapierTestSignOptions } from './zapier-test-signer.js';

const JWKS_PATH = '/.well-known/jwks.json';
const JWKS_REDIRECTED_PATH = '/.well-known/jwks-redirected.json';
const CREATE_PATH = /^\/v2\/action-runs\/?$/;
const RUN_PATH = /^\/v2\/action-runs\/([^/]+)\/?$/;
const BODY_LIMIT_BYTES = 1024 * 1024;
const DEFAULT_DELAY_MS = 20;
const DEFAULT_OUTCOME: RunOutcome = { status: 'success', results: [{ ok: true }] };
const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1000;

type Answer = (status: number, body?: unknown, headers?: Record<string, string>) => void;

/**
 * A fake Zapier on 127.0.0.1 for tests: the JWKS, the v2 action-runs API (create and poll, with
 * Zapier's error envelope, auth and rate limits) and signed callbacks with Zapier's retry rules
 * (docs/decisions.md#f1 to #f4). The module under test talks to it unchanged: use {@link url} as
 * its API base URL, {@link jwksUrl} as its JWKS URL and {@link accessToken} as its token. It
 * imports no test runner. Its own route `POST /sandbox/callbacks` (with the same bearer token)
 * delivers a signed callback on request, as {@link deliverCallback} does; see `sandbox-control.ts`.
 *
 * @example
 * const zapier = await ZapierSandbox.start({ callbackTarget: `${appUrl}/zapier/callback` });
 * zapier.queueOutcome({ status: 'error', callback: 'never' });
 * // ... exercise the app ...
 * await zapier.whenIdle();
 * await zapier.stop();
 * @publicApi
 */
export class ZapierSandbox {
  /** Base URL, e.g. `http://127.0.0.1:40123`: the module's API base URL. */
  readonly url: string;
  /** `${url}/.well-known/jwks.json`. */
  readonly jwksUrl: string;
  /** The bearer token the API requires, or `null` when it accepts any. */
  readonly accessToken: string | null;

  private readonly options: ZapierSandboxOptions;
  private readonly now: () => number;
  private readonly limiter: SandboxRateLimiter | null;
  private readonly retryAfterForm: SandboxRetryAfterForm;
  private readonly runs = new Map<string, SandboxRunState>();
  private outcomeQueue: RunOutcome[] = [];
  private outcomeHead = 0;
  private readonly deliveryLog: SandboxDelivery[] = [];
  private readonly requestLog: SandboxRequestRecord[] = [];
  private readonly activity = new SandboxActivity();
  private readonly lifetime = new AbortController();
  private jwksBehaviour: SandboxJwksBehaviour = 'ok';
  private jwksCount = 0;
  private rateLimitedCount = 0;
  private stopping: Promise<void> | null = null;

  private constructor(
    private readonly server: Server,
    /** The signer whose current key signs every callback; use it to sign tokens by hand. */
    readonly signer: ZapierTestSigner,
    options: ZapierSandboxOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.jwksUrl = `${this.url}${JWKS_PATH}`;
    this.options = options;
    this.accessToken = options.accessToken === undefined ? 'sandbox-token' : options.accessToken;
    this.now = options.now ?? Date.now;
    // Every pending delay and delivery listens on this one signal; thousands at once are expected.
    setMaxListeners(0, this.lifetime.signal);
    const rateLimit = options.rateLimit ?? { perMinute: 60, cooldownMs: 60_000 };
    this.limiter = rateLimit
      ? new SandboxRateLimiter(rateLimit.perMinute, rateLimit.cooldownMs)
      : null;
    this.retryAfterForm = (rateLimit && rateLimit.retryAfter) || 'seconds';
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((error: unknown) => {
        send(res, 500, errorEnvelope(500, `The sandbox failed: ${String(error)}`));
      });
    });
  }

  /** Starts a sandbox on a free port of 127.0.0.1. */
  static async start(options: ZapierSandboxOptions = {}): Promise<ZapierSandbox> {
    const signer = await ZapierTestSigner.create({ kid: options.kid });
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    return new ZapierSandbox(server, signer, options);
  }

  /** Every callback delivery attempt so far, in order. */
  /**
   * The `ZapierModule` options that point an app at this sandbox (API, JWKS, token), to spread
   * into your own, e.g. `.overrideProvider(ZAPIER_MODULE_OPTIONS).useValue({ ...sandbox.moduleOptions(), callbackUrl })`.
   */
  moduleOptions(): { apiBaseUrl: string; jwksUrl: string; accessToken: string } {
    return {
      apiBaseUrl: this.url,
      jwksUrl: this.jwksUrl,
      accessToken: this.accessToken ?? 'sandbox-token',
    };
  }

  get deliveries(): readonly SandboxDelivery[] {
    return this.deliveryLog;
  }

  /** Every API request so far (JWKS requests excluded), in order. */
  get requests(): readonly SandboxRequestRecord[] {
    return this.requestLog;
  }

  /** Requests to the JWKS endpoint, whatever it answered. */
  get jwksRequests(): number {
    return this.jwksCount;
  }

  /** 429 answers sent. */
  get rateLimited(): number {
    return this.rateLimitedCount;
  }

  /** A snapshot of one run, or `undefined` for an unknown id. */
  run(id: string): SandboxRun | undefined {
    const run = this.runs.get(id);
    return run && snapshot(run);
  }

  /** Ids of every run created, in creation order. */
  runIds(): string[] {
    return [...this.runs.keys()];
  }

  /** Scripts the next created run; queued outcomes are used first-in, first-out. */
  queueOutcome(outcome: RunOutcome): void {
    this.outcomeQueue.push(outcome);
  }

  /**
   * Makes a new key the signing key. With `keepPrevious`, the JWKS still lists the replaced key.
   *
   * @returns the new kid.
   */
  rotateKeys(options: { keepPrevious?: boolean; kid?: string } = {}): Promise<string> {
    return this.signer.rotate(options);
  }

  /** Makes the JWKS endpoint misbehave (or behave again with `'ok'`). */
  setJwksBehaviour(behaviour: SandboxJwksBehaviour): void {
    this.jwksBehaviour = behaviour;
  }

  /**
   * POSTs a signed callback for any payload to `url` (not mapped through `callbackTarget`) with
   * Zapier's retry rules, for example to deliver one run to two app instances.
   *
   * @returns the attempts made.
   */
  async deliverCallback(
    url: string,
    payload: ZapierCallbackInput,
    signOptions: ZapierTestSignOptions = {},
  ): Promise<SandboxDelivery[]> {
    const body = toCallbackPayload(payload);
    const attempts = this.deliver(body.data.id, url, JSON.stringify(body), signOptions);
    return (await this.activity.track(attempts)) ?? [];
  }

  /** Resolves once no run is executing and no callback delivery is pending. */
  whenIdle(): Promise<void> {
    return this.activity.whenIdle();
  }

  /** Closes the server, cancels pending runs and deliveries, and resolves when all is idle. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.lifetime.abort();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      await Promise.all([closed, this.activity.whenIdle()]);
    })();
    return this.stopping;
  }

  private retryAfterHeader(seconds: number, resetAt: number): string {
    switch (this.retryAfterForm) {
      case 'seconds':
        return String(seconds);
      case 'http-date':
        return new Date(Math.ceil(resetAt / 1000) * 1000).toUTCString();
      case 'epoch-seconds':
        return String(Math.ceil(resetAt / 1000));
      case 'epoch-ms':
        return String(resetAt);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', this.url).pathname;
    if (path === JWKS_PATH || path === JWKS_REDIRECTED_PATH) {
      req.resume();
      this.serveJwks(res, path);
      return;
    }
    if (path === SANDBOX_CALLBACKS_PATH && req.method === 'POST') {
      await this.serveCallbackCommand(req, res);
      return;
    }
    const text = await readBody(req, BODY_LIMIT_BYTES);
    const record: SandboxRequestRecord = {
      method: req.method ?? 'GET',
      path,
      status: 0,
      at: this.now(),
      ...(text ? { body: parseJson(text) ?? text } : {}),
    };
    this.requestLog.push(record);
    const answer: Answer = (status, body, headers = {}) => {
      record.status = status;
      const created = (body as { data?: { id?: unknown } } | undefined)?.data?.id;
      if (typeof created === 'string') record.runId = created;
      send(res, status, body, headers);
      this.options.onRequest?.(record);
    };

    const limit = this.limiter?.check(record.at);
    const limitHeaders = limit ? rateLimitHeaders(limit) : {};
    if (limit && !limit.allowed) {
      this.rateLimitedCount += 1;
      const retryAfter = Math.max(1, Math.ceil((limit.resetAt - record.at) / 1000));
      const detail = `Rate limit of ${limit.limit} requests a minute exceeded; retry after ${retryAfter} s.`;
      answer(429, errorEnvelope(429, detail), {
        ...limitHeaders,
        'retry-after': this.retryAfterHeader(retryAfter, limit.resetAt),
      });
      return;
    }
    if (!this.isAuthorized(req)) {
      const detail = 'Missing or invalid bearer token in the Authorization header.';
      answer(401, errorEnvelope(401, detail), limitHeaders);
      return;
    }
    if (text === null) {
      const detail = `The request body is over ${BODY_LIMIT_BYTES} bytes.`;
      answer(413, errorEnvelope(413, detail, { code: 'request_too_large' }), limitHeaders);
      return;
    }
    const runId = RUN_PATH.exec(path)?.[1];
    if (CREATE_PATH.test(path) && req.method === 'POST') {
      await this.create(text, answer, limitHeaders);
    } else if (runId !== undefined && req.method === 'GET') {
      record.runId = decodePathSegment(runId);
      this.poll(record.runId, answer, limitHeaders);
    } else if (CREATE_PATH.test(path) || runId !== undefined) {
      const detail = `${req.method} is not allowed on ${path}.`;
      answer(405, errorEnvelope(405, detail, { code: 'method_not_allowed' }), limitHeaders);
    } else {
      answer(404, errorEnvelope(404, `No route for ${path}.`), limitHeaders);
    }
  }

  private async create(
    text: string,
    answer: Answer,
    headers: Record<string, string>,
  ): Promise<void> {
    const body = parseJson(text);
    if (body === undefined) {
      answer(400, errorEnvelope(400, 'Malformed request.', { code: 'parse_error' }), headers);
      return;
    }
    const parsed = parseCreateRequest(body);
    if (!parsed.ok) {
      answer(400, errorEnvelope(400, parsed.detail, { pointer: parsed.pointer }), headers);
      return;
    }
    const outcome =
      this.nextQueuedOutcome() ?? this.options.outcome?.(parsed.request) ?? DEFAULT_OUTCOME;
    const createStatus = outcome.createStatus ?? 200;
    const accepted = createStatus >= 200 && createStatus < 300;
    if (!accepted && !outcome.createRunsAnyway) {
      answer(
        createStatus,
        errorEnvelope(createStatus, `Scripted ${createStatus} answer.`),
        headers,
      );
      return;
    }
    const run = this.createRun(parsed.request, outcome);
    const execution = this.activity.track(this.execute(run));
    if (outcome.callback === 'before-response') await execution;
    if (accepted) {
      answer(createStatus, { data: { type: 'run', id: run.id } }, headers);
    } else {
      answer(
        createStatus,
        errorEnvelope(createStatus, `Scripted ${createStatus} answer.`),
        headers,
      );
    }
  }

  private poll(id: string, answer: Answer, headers: Record<string, string>): void {
    const run = this.runs.get(id);
    const retentionMs = this.options.retentionMs ?? SEVEN_DAYS_MS;
    if (!run || this.now() - run.createdAt > retentionMs) {
      answer(404, errorEnvelope(404, `No action run with id "${id}".`), headers);
      return;
    }
    run.polls += 1;
    if (run.failPollsLeft > 0) {
      run.failPollsLeft -= 1;
      answer(503, errorEnvelope(503, 'Scripted 503 answer to a poll.'), headers);
      return;
    }
    if (run.status === 'pending') {
      const pending = pendingPoll(run, this.options.pendingStyle ?? 'waiting');
      answer(pending.status, pending.body, headers);
      return;
    }
    answer(200, completedPollBody(run, this.options.pollShape ?? 'reference'), headers);
  }

  private nextQueuedOutcome(): RunOutcome | undefined {
    const outcome = this.outcomeQueue[this.outcomeHead];
    if (outcome === undefined) return undefined;
    this.outcomeHead += 1;
    if (this.outcomeHead === this.outcomeQueue.length) {
      this.outcomeQueue = [];
      this.outcomeHead = 0;
    }
    return outcome;
  }

  private createRun(request: SandboxCreateRequest, outcome: RunOutcome): SandboxRunState {
    const run: SandboxRunState = {
      id: `arun_${randomBytes(12).toString('hex')}`,
      request,
      outcome,
      status: 'pending',
      createdAt: this.now(),
      completedAt: null,
      polls: 0,
      deliveries: [],
      failPollsLeft: outcome.failPolls ?? 0,
    };
    this.runs.set(run.id, run);
    return run;
  }

  private async execute(run: SandboxRunState): Promise<void> {
    try {
      await sleep(run.outcome.delayMs ?? DEFAULT_DELAY_MS, undefined, {
        signal: this.lifetime.signal,
      });
    } catch {
      return;
    }
    run.status = run.outcome.status;
    run.completedAt = this.now();
    const mode = run.outcome.callback ?? 'deliver';
    const callbackUrl = run.request.callbackUrl;
    if (callbackUrl === null || mode === 'never') return;
    let url: string;
    try {
      url = this.callbackTargetFor(callbackUrl);
    } catch (error) {
      const at = this.now();
      this.record({
        runId: run.id,
        attempt: 1,
        url: callbackUrl,
        error: `callbackTarget failed: ${String(error)}`,
        startedAt: at,
        finishedAt: at,
      });
      return;
    }
    const body = JSON.stringify(callbackBody(run));
    const copies = mode === 'twice' ? 2 : 1;
    await Promise.all(Array.from({ length: copies }, () => this.deliver(run.id, url, body, {})));
  }

  private deliver(
    runId: string,
    url: string,
    body: string,
    signOptions: ZapierTestSignOptions,
  ): Promise<SandboxDelivery[]> {
    return deliverWithRetries(
      {
        signal: this.lifetime.signal,
        now: this.now,
        timeoutMs: this.options.deliveryTimeoutMs ?? 5000,
        retryBaseDelayMs: this.options.retryBaseDelayMs ?? 250,
        sign: () => this.signer.sign({ issuedAt: Math.floor(this.now() / 1000), ...signOptions }),
        record: (delivery) => this.record(delivery),
      },
      runId,
      url,
      body,
    );
  }

  private record(delivery: SandboxDelivery): void {
    this.deliveryLog.push(delivery);
    this.runs.get(delivery.runId)?.deliveries.push(delivery);
    this.options.onDelivery?.(delivery);
  }

  private async serveCallbackCommand(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req, BODY_LIMIT_BYTES);
    if (!this.isAuthorized(req)) {
      send(
        res,
        401,
        errorEnvelope(401, 'Missing or invalid bearer token in the Authorization header.'),
      );
      return;
    }
    const parsed = text === null ? null : parseCallbackCommand(parseJson(text));
    if (parsed === null || !parsed.ok) {
      const detail = parsed?.detail ?? `The request body is over ${BODY_LIMIT_BYTES} bytes.`;
      send(res, 400, errorEnvelope(400, detail, parsed ? { pointer: parsed.pointer } : {}));
      return;
    }
    send(res, 200, { deliveries: await this.deliverCallback(parsed.url, parsed.callback) });
  }

  private callbackTargetFor(callbackUrl: string): string {
    const target = this.options.callbackTarget;
    if (target === undefined) return callbackUrl;
    if (typeof target === 'function') return target(callbackUrl);
    const mapped = new URL(target);
    if (mapped.search === '') mapped.search = new URL(callbackUrl).search;
    return mapped.toString();
  }

  private isAuthorized(req: IncomingMessage): boolean {
    if (this.accessToken === null) return true;
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    return match?.[1] === this.accessToken;
  }

  private serveJwks(res: ServerResponse, path: string): void {
    this.jwksCount += 1;
    const behaviour = path === JWKS_REDIRECTED_PATH ? 'ok' : this.jwksBehaviour;
    switch (behaviour) {
      case 'ok':
        send(res, 200, this.signer.jwks());
        return;
      case 'error-503':
        send(res, 503, errorEnvelope(503, 'Scripted JWKS outage.'));
        return;
      case 'hang':
        // Never answered; stop() destroys the socket.
        return;
      case 'invalid-json':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"keys": [');
        return;
      case 'keys-null':
        send(res, 200, { keys: null });
        return;
      case 'oversized':
        send(res, 200, { ...this.signer.jwks(), padding: 'x'.repeat(2 * 1024 * 1024) });
        return;
      case 'redirect':
        res.writeHead(302, { location: `${this.url}${JWKS_REDIRECTED_PATH}` });
        res.end();
        return;
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  return {
    'x-ratelimit-limit': String(decision.limit),
    'x-ratelimit-remaining': String(decision.remaining),
    'x-ratelimit-reset': String(Math.ceil(decision.resetAt / 1000)),
  };
}
