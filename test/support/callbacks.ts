import type { DataSource } from 'typeorm';
import type { ZapierCallbackInput, ZapierTestSigner } from '../../src/testing/index.js';

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
