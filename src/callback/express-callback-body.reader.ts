import type { IncomingMessage, ServerResponse } from 'node:http';
import { ZapierMessages } from '../zapier.messages.js';
import { isJsonContentType, type CallbackRequestExtras } from './callback-request.js';
import { writeRefusal } from './refuse-early.js';
import type { ZapierCallbackGate } from './zapier-callback-gate.js';

type Request = IncomingMessage & CallbackRequestExtras & { body?: unknown; path?: string };

/**
 * The callback route's first middleware on Express, ahead of Nest's global JSON parser (100 kB
 * limit: its 413 is a 4xx Zapier never retries) and of every host middleware. It answers a bad
 * signature (401) or an unusable length (413) from the headers alone, then reads the body within
 * the gate's limits (answering what the gate refuses), keeps the raw text and parses JSON itself.
 * A whole body that is not usable JSON is recorded rather than answered, so the route quarantines
 * it and answers 400. Once the stream is consumed, Nest's parser skips the request.
 */
export function expressCallbackBodyReader(
  isCallbackPath: (path: string) => boolean,
  gate: ZapierCallbackGate,
) {
  return function zapierCallbackBody(
    req: Request,
    res: ServerResponse,
    next: (error?: unknown) => void,
  ): void {
    if (req.method !== 'POST' || !isCallbackPath(req.path ?? req.url ?? '')) {
      next();
      return;
    }
    void receive(req, res, gate).then((answered) => {
      if (!answered) next();
    }, next);
  };
}

/** Reads the callback onto `req`; true when it was answered here and the chain stops. */
async function receive(
  req: Request,
  res: ServerResponse,
  gate: ZapierCallbackGate,
): Promise<boolean> {
  const refusal = await gate.admit(req);
  if (refusal) {
    writeRefusal(req, res, refusal);
    return true;
  }
  const read = await gate.read(req, req, res);
  if (!read.ok) {
    writeRefusal(req, res, read.refusal);
    return true;
  }
  const raw = read.body.toString('utf8');
  req.zapierRawBody = raw;
  const contentType = req.headers['content-type'];
  const charset = /charset=([^;]+)/i
    .exec(contentType ?? '')?.[1]
    ?.trim()
    .toLowerCase();
  if (!isJsonContentType(contentType)) {
    req.zapierBodyError = ZapierMessages.bodyNotJsonType(contentType ?? '(none)');
  } else if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    req.zapierBodyError = ZapierMessages.bodyCharset(charset);
  } else {
    try {
      req.body = JSON.parse(raw);
    } catch (error) {
      req.zapierBodyError = ZapierMessages.bodyInvalidJson((error as Error).message);
    }
  }
  return false;
}
