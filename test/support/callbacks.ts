import type { DataSource } from 'typeorm';
import type {
  ZapierCallbackInput,
  ZapierTestSigner,
  ZapierTestSignOptions,
} from '../../src/testing/index.js';
import type { RecordingListener } from './recording-listener.js';

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown> | undefined;
}

/** POSTs to the callback route and reads the JSON answer. */
export async function postCallback(
  baseUrl: string,
  request: { headers: Record<string, string>; body: string | Buffer },
  path = '/zapier/callbacks',
): Promise<HttpAnswer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: request.headers,
    body: request.body,
  });
  const text = await response.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}

/** Signs and POSTs a callback for the payload. */
export async function sendCallback(
  baseUrl: string,
  signer: ZapierTestSigner,
  payload: ZapierCallbackInput,
  path?: string,
): Promise<HttpAnswer> {
  return postCallback(baseUrl, await signer.callbackRequest(payload), path);
}

/** A raw body with a valid signature header, for bodies the signer would not produce. */
export async function signedRaw(
  signer: ZapierTestSigner,
  body: string | Buffer,
  contentType = 'application/json',
): Promise<{ headers: Record<string, string>; body: string | Buffer }> {
  return {
    headers: { 'content-type': contentType, 'zapier-callback-signature': await signer.sign() },
    body,
  };
}

/** Rows of a table (all columns), for assertions. */
export function rows(
  dataSource: DataSource,
  table: 'zapier_action_runs' | 'zapier_callback_quarantine',
): Promise<Array<Record<string, unknown>>> {
  return dataSource.query(`SELECT * FROM ${table}`);
}

/**
 * Sends a signed success callback for the fresh run `markerId` and resolves once the app's
 * listener heard its event. Events the app would emit for earlier requests are queued ahead of
 * it, so an event still missing afterwards is one the app did not emit (no fixed sleep). Pass
 * `signOptions` (`issuedAt`) when the app's clock is not real time.
 */
export async function awaitMarkerEvent(
  app: { url: string; listener: RecordingListener },
  signer: ZapierTestSigner,
  markerId: string,
  signOptions?: ZapierTestSignOptions,
): Promise<void> {
  const request = await signer.callbackRequest({ id: markerId, status: 'success' }, signOptions);
  const answer = await postCallback(app.url, request);
  if (answer.status !== 200) {
    throw new Error(`The marker callback ${markerId} was answered ${answer.status}.`);
  }
  const deadline = Date.now() + 10_000;
  while (app.listener.forRun(markerId).length === 0) {
    if (Date.now() > deadline) throw new Error(`The marker run ${markerId} was never heard.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
