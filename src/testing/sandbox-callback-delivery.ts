import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SandboxDelivery } from './zapier-sandbox.interfaces.js';

/** Zapier's documented total number of attempts (docs/decisions.md#f3-retries). */
const MAX_ATTEMPTS = 3;

/** What a delivery needs from the sandbox. */
export interface DeliveryContext {
  signal: AbortSignal;
  now: () => number;
  timeoutMs: number;
  retryBaseDelayMs: number;
  /** A fresh `Zapier-Callback-Signature` token for one attempt. */
  sign: () => Promise<string>;
  record: (delivery: SandboxDelivery) => void;
}

type AttemptResult = { status: number } | { error: string };

/**
 * POSTs a callback with Zapier's retry rules (docs/decisions.md#f3-retries): 2xx is done; 5xx, a
 * network error or a timeout is retried with exponential backoff, up to 3 attempts in total; 4xx
 * gives up at once; 3xx is a failure without retry. Resolves with every attempt made; never
 * rejects.
 */
export async function deliverWithRetries(
  context: DeliveryContext,
  runId: string,
  url: string,
  body: string,
): Promise<SandboxDelivery[]> {
  const attempts: SandboxDelivery[] = [];
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
    const startedAt = context.now();
    const result = await attemptOnce(context, url, body);
    const delivery: SandboxDelivery = {
      runId,
      attempt,
      url,
      ...result,
      startedAt,
      finishedAt: context.now(),
    };
    attempts.push(delivery);
    context.record(delivery);
    if (!isRetryable(result) || attempt === MAX_ATTEMPTS || context.signal.aborted) break;
    try {
      await sleep(context.retryBaseDelayMs * 2 ** (attempt - 1), undefined, {
        signal: context.signal,
      });
    } catch {
      break;
    }
  }
  return attempts;
}

function isRetryable(result: AttemptResult): boolean {
  return 'error' in result || result.status >= 500;
}

async function attemptOnce(
  context: DeliveryContext,
  url: string,
  body: string,
): Promise<AttemptResult> {
  let target: URL;
  let token: string;
  try {
    target = new URL(url);
    token = await context.sign();
  } catch (error) {
    return { error: describe(error) };
  }
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<AttemptResult>((resolve) => {
    const req = request(target, {
      method: 'POST',
      agent: false,
      signal: context.signal,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'zapier-callback-signature': token,
      },
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${context.timeoutMs} ms`));
    }, context.timeoutMs);
    const finish = (result: AttemptResult) => {
      clearTimeout(timer);
      resolve(result);
    };
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => finish({ status: res.statusCode ?? 0 }));
      res.on('error', (error) => finish({ error: describe(error) }));
      res.on('close', () => finish({ error: 'connection closed before the answer ended' }));
    });
    req.on('error', (error) => finish({ error: describe(error) }));
    req.end(body);
  });
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}
