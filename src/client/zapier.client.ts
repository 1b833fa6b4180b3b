import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZAPIER_CLOCK, ZAPIER_OPTIONS } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import type { ActionRun } from '../interfaces/action-run.interface.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierRequestBudget } from '../budget/zapier-request-budget.js';
import { ZapierRunLifecycle } from '../runs/zapier-run-lifecycle.js';
import { validateCallbackUrl } from '../common/callback-url.js';
import { isWellFormedRunId, MAX_RUN_ID_LENGTH } from '../common/normalise-run-fields.js';
import { parseActionRun } from './parse-action-run.js';
import { retryAfterMs } from './rate-limit-headers.js';
import {
  parseErrorItems,
  ZapierApiError,
  ZapierRateLimitedError,
  ZapierRunNotRecordedError,
  type ZapierApiErrorItem,
} from './zapier-api.error.js';
import { ZapierHttp, type ZapierResponse } from './zapier-http.js';
import { ZapierTelemetry } from '../telemetry/zapier-telemetry.js';
import { ZAPIER_ATTRIBUTES, ZAPIER_SPANS } from '../telemetry/zapier-instruments.js';

/**
 * What `ZapierClient.createActionRun()` takes.
 *
 * @publicApi
 */
export interface CreateActionRunInput {
  /** The action id from `GET /v2/actions` (a per-lookup id, not the stable key). */
  action: string;
  /** The authentication (connection) id, or `null` for actions that need none. */
  authentication: string | null;
  /** The action's input fields. */
  inputs: Record<string, unknown>;
  /** Where Zapier should call back; defaults to the module's `callbackUrl` option. */
  callbackUrl?: string;
  /** Any JSON object; it comes back as `metadata` in the run's events. */
  metadata?: Record<string, unknown>;
}

/** A 429 on a create is retried after Zapier's wait this many times (docs/decisions.md#d5). */
const CREATE_RETRIES_ON_429 = 3;
/** Waits between attempts to record a created run while the database is unreachable. */
const RECORD_RETRY_DELAYS_MS = [100, 500, 2000];

/**
 * Starts action runs through Zapier's API and reads them back. Every request goes through the
 * shared request budget (see `ZapierRequestBudget`). Each run it starts is recorded as pending
 * with its metadata (see `ZapierRunLifecycle`), so its callback (or, failing that, the poller)
 * completes it.
 *
 * @publicApi
 */
@Injectable()
export class ZapierClient {
  private readonly logger = new Logger('ZapierClient');
  private readonly warnedStatuses = new Set<string>();

  constructor(
    private readonly http: ZapierHttp,
    private readonly budget: ZapierRequestBudget,
    private readonly runs: ZapierRunLifecycle,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
    @Optional() private readonly telemetry: ZapierTelemetry = ZapierTelemetry.disabled,
  ) {}

  /**
   * Starts a run (`POST /v2/action-runs/`) and records it as pending. The POST is never retried
   * on a timeout or a 5xx, which could run the action twice; only a 429 is, after Zapier's wait,
   * when that wait fits within `requestTimeoutMs`.
   *
   * @throws ZapierCallbackUrlError before anything is sent, for a callback URL Zapier refuses.
   * @throws ZapierRateLimitedError before anything is sent, when the request budget (a 429
   *   cooldown, or requests queued ahead) has no slot within `requestTimeoutMs`.
   * @throws ZapierApiError when Zapier answers an error (status 0: no answer; the run may exist).
   * @throws ZapierRunNotRecordedError when the run started but could not be recorded.
   */
  createActionRun(input: CreateActionRunInput): Promise<{ id: string }> {
    return this.telemetry.span(ZAPIER_SPANS.create, {}, async (span) => {
      try {
        const created = await this.create(input);
        span.setAttribute(ZAPIER_ATTRIBUTES.runId, created.id);
        this.telemetry.create('created');
        return created;
      } catch (error) {
        this.telemetry.create(error instanceof ZapierRateLimitedError ? 'rate_limited' : 'failed');
        throw error;
      }
    });
  }

  private async create(input: CreateActionRunInput): Promise<{ id: string }> {
    const callbackUrl = input.callbackUrl ?? this.options.callbackUrl;
    if (callbackUrl !== undefined) validateCallbackUrl(callbackUrl);
    assertCreateInput(input);
    const fields = {
      action: input.action,
      authentication: input.authentication,
      callback_url: callbackUrl,
    };
    const body =
      this.options.createBodyShape === 'reference'
        ? { data: { ...fields, inputs: input.inputs } }
        : { ...fields, input: input.inputs };
    const response = await this.send('create', 'POST', '/v2/action-runs/', body);
    // The create counts as in flight until its run is recorded (see ZapierRunLifecycle).
    try {
      const data = (response.body as { data?: { id?: unknown } } | undefined)?.data;
      if (data?.id === undefined || data.id === null || data.id === '') {
        throw new ZapierApiError(
          ZapierMessages.createWithoutRunId(response.status),
          response.status,
        );
      }
      if (!isWellFormedRunId(data.id)) {
        // Not a key the store can hold (a NUL is refused by PostgreSQL) nor one safe to log.
        throw new ZapierApiError(
          ZapierMessages.createRunIdMalformed(response.status, MAX_RUN_ID_LENGTH),
          response.status,
        );
      }
      await this.record(data.id, input);
      return { id: data.id };
    } finally {
      await this.runs.finishCreate();
    }
  }

  /**
   * Reads a run (`GET /v2/action-runs/{id}`), leniently: see `ActionRun.status`.
   *
   * @throws ZapierApiError for an error status (404: unknown, or older than Zapier's retention).
   */
  async getActionRun(id: string): Promise<ActionRun> {
    return (await this.readActionRun(id)).run;
  }

  /**
   * `getActionRun()` plus the body as Zapier sent it, which the poller stores; `signal` aborts
   * the wait for a budget slot and the request itself (a read is safe to give up).
   */
  async readActionRun(id: string, signal?: AbortSignal): Promise<{ run: ActionRun; raw: string }> {
    const path = `/v2/action-runs/${encodeURIComponent(id)}`;
    const response = await this.send('read', 'GET', path, undefined, signal);
    const { run, unknownStatus } = parseActionRun(response.status, response.body, id);
    if (unknownStatus !== null && !this.warnedStatuses.has(unknownStatus)) {
      this.warnedStatuses.add(unknownStatus);
      this.logger.warn(ZapierMessages.unknownRunStatus(unknownStatus, id));
    }
    return { run, raw: response.text };
  }

  private async send(
    kind: 'create' | 'read',
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<ZapierResponse> {
    let rateLimited = 0;
    let refreshed = false;
    let lastErrors: ZapierApiErrorItem[] = [];
    for (;;) {
      if (kind === 'read') {
        // The poller's reads wait as long as it takes: they are abortable, and the poller patient.
        await this.budget.acquire(signal);
      } else {
        // A caller is waiting on a create: past requestTimeoutMs it learns at once, and nothing
        // is sent.
        const timeoutMs = this.options.requestTimeoutMs;
        const slot = await this.budget.acquireWithin(timeoutMs, signal);
        if (!slot.acquired) {
          throw new ZapierRateLimitedError(
            ZapierMessages.rateLimitedCreate(method, path, slot.waitMs, timeoutMs),
            slot.waitMs,
            lastErrors,
          );
        }
      }
      const response = await this.attempt(kind, method, path, body, signal);
      this.telemetry.apiResponse(kind, response.status);
      if (response.status === 429) {
        await this.budget.cooldown(
          retryAfterMs(response.headers, this.clock.now(), this.options.polling.cooldownMs),
        );
        lastErrors = parseErrorItems(response.body);
        if (kind === 'create' && rateLimited++ < CREATE_RETRIES_ON_429) continue;
      } else if (response.status === 401 && this.http.canRefreshToken && !refreshed) {
        // A token function may return a fresh token; a 401 means nothing was created.
        refreshed = true;
        continue;
      }
      if (response.status >= 200 && response.status < 300) return response;
      const errors = parseErrorItems(response.body);
      const detail = errors
        .map((e) => e.detail ?? e.title ?? e.code)
        .filter(Boolean)
        .join('; ');
      throw new ZapierApiError(
        ZapierMessages.apiErrorStatus(method, path, response.status, detail),
        response.status,
        errors,
      );
    }
  }

  /**
   * One request. A create is marked in flight while it waits for its answer; the mark is cleared
   * here unless the answer is a success, whose run `createActionRun` records first.
   */
  private async attempt(
    kind: 'create' | 'read',
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<ZapierResponse> {
    if (kind === 'read') return this.http.send(method, path, body, signal);
    await this.runs.beginCreate();
    let response: ZapierResponse;
    try {
      response = await this.http.send(method, path, body, signal);
    } catch (error) {
      await this.runs.finishCreate();
      throw error;
    }
    if (response.status < 200 || response.status >= 300) await this.runs.finishCreate();
    return response;
  }

  private async record(runId: string, input: CreateActionRunInput): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.runs.recordSubmitted({
          runId,
          action: input.action,
          metadata: input.metadata ?? null,
        });
        return;
      } catch (error) {
        if (attempt >= RECORD_RETRY_DELAYS_MS.length) {
          throw new ZapierRunNotRecordedError(runId, { cause: error });
        }
        await sleep(RECORD_RETRY_DELAYS_MS[attempt]);
      }
    }
  }
}

function assertCreateInput(input: CreateActionRunInput): void {
  const problems: string[] = [];
  if (typeof input.action !== 'string' || input.action === '')
    problems.push(ZapierMessages.createActionInvalid());
  if (input.authentication !== null && typeof input.authentication !== 'string') {
    problems.push(ZapierMessages.createAuthenticationInvalid());
  }
  if (typeof input.inputs !== 'object' || input.inputs === null || Array.isArray(input.inputs)) {
    problems.push(ZapierMessages.createInputsInvalid());
  }
  if (
    input.metadata !== undefined &&
    (typeof input.metadata !== 'object' || input.metadata === null || Array.isArray(input.metadata))
  ) {
    problems.push(ZapierMessages.createMetadataInvalid());
  }
  if (problems.length > 0) {
    throw new TypeError(ZapierMessages.invalidCreateInput(problems.join('; ')));
  }
}
