import type { IncomingMessage, ServerResponse } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { ZapierMessages } from '../zapier.messages.js';
import { isJsonContentType, type CallbackRequestExtras } from './callback-request.js';

type Request = IncomingMessage & CallbackRequestExtras & { body?: unknown; path?: string };

/**
 * Reads the callback route's body on Express, ahead of Nest's global JSON parser (100 kB limit:
 * its 413 is a 4xx Zapier never retries). It keeps the raw text and parses JSON itself; a parse
 * failure is recorded rather than answered, so the signature guard still runs first and an
 * unsigned request gets its 401. Once the stream is consumed, Nest's parser skips the request.
 */
export function expressCallbackBodyReader(
  isCallbackPath: (path: string) => boolean,
  limit: number,
  onTooLarge: (bytes: number) => void,
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
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      tooLarge(req, res, declared, limit, onTooLarge);
      return;
    }
    let source: Readable;
    try {
      source = decoded(req);
    } catch (error) {
      req.zapierBodyError = (error as Error).message;
      req.resume();
      req.on('end', () => next());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        failed = true;
        source.removeAllListeners('data');
        tooLarge(req, res, size, limit, onTooLarge);
        return;
      }
      chunks.push(chunk);
    });
    source.on('error', (error: Error) => {
      if (failed) return;
      failed = true;
      req.zapierBodyError = ZapierMessages.bodyUnreadable(error.message);
      next();
    });
    source.on('end', () => {
      if (failed) return;
      const raw = Buffer.concat(chunks).toString('utf8');
      req.zapierRawBody = raw;
      const charset = /charset=([^;]+)/i
        .exec(req.headers['content-type'] ?? '')?.[1]
        ?.trim()
        .toLowerCase();
      if (!isJsonContentType(req.headers['content-type'])) {
        req.zapierBodyError = ZapierMessages.bodyNotJsonType(
          req.headers['content-type'] ?? '(none)',
        );
      } else if (charset && charset !== 'utf-8' && charset !== 'utf8') {
        req.zapierBodyError = ZapierMessages.bodyCharset(charset);
      } else {
        try {
          req.body = JSON.parse(raw);
        } catch (error) {
          req.zapierBodyError = ZapierMessages.bodyInvalidJson((error as Error).message);
        }
      }
      next();
    });
  };
}

function decoded(req: IncomingMessage): Readable {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  switch (encoding) {
    case 'identity':
      return req;
    case 'gzip':
    case 'x-gzip':
      return req.pipe(createGunzip());
    case 'deflate':
      return req.pipe(createInflate());
    case 'br':
      return req.pipe(createBrotliDecompress());
    default:
      throw new Error(ZapierMessages.bodyEncoding(encoding));
  }
}

function tooLarge(
  req: IncomingMessage,
  res: ServerResponse,
  bytes: number,
  limit: number,
  onTooLarge: (bytes: number) => void,
): void {
  onTooLarge(bytes);
  req.resume();
  res.statusCode = 413;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('connection', 'close');
  res.end(
    JSON.stringify({
      statusCode: 413,
      error: 'Payload Too Large',
      message: ZapierMessages.callbackBodyTooLarge(bytes, limit),
    }),
  );
}
