import type { IncomingHttpHeaders } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, type Zlib } from 'node:zlib';
import { ZapierMessages } from '../zapier.messages.js';
import { isJsonContentType } from './callback-request.js';
import { HEAP_BYTES_PER_JSON_ELEMENT, type CallbackMemoryShare } from './callback-memory-budget.js';
import { JsonShapeScanner, type JsonShapeLimits } from './json-shape-scanner.js';
import { brotliWindowBits, MAX_BROTLI_WINDOW_BITS, peekFirstChunk } from './brotli-window.js';

/**
 * Below this many decoded bytes any compression ratio is accepted: small, repetitive JSON
 * legitimately shrinks a hundredfold.
 */
const RATIO_CHECKED_FROM_BYTES = 1024 * 1024;
/**
 * Compression no real callback reaches (gzip and brotli give JSON results 5 to 50 times); a
 * bomb reaches thousands. Beyond it the body is refused before it is inflated further.
 */
export const MAX_COMPRESSION_RATIO = 200;

export interface CallbackBodyLimits {
  /** Most decoded bytes (`callbackBodyLimit`). */
  maxBytes: number;
  shape: JsonShapeLimits;
}

/** What reading a signed callback's body gave. */
export type CallbackBodyRead =
  | {
      ok: true;
      body: Buffer;
      /** Bytes received on the wire (before decoding). */
      receivedBytes: number;
    }
  | {
      ok: false;
      /**
       * 400: the body is not one we can take (quarantined with what was read); 413: too large
       * (not kept; the run waits for the poller); 503: our memory budget is spent (Zapier retries).
       */
      status: 400 | 413 | 503;
      reason: string;
      /** Decoded bytes read before the refusal (for the quarantine of a 400). */
      partial: Buffer;
    };

/**
 * Reads a callback's body after its signature verified: decodes `Content-Encoding`, and stops
 * at the first byte past a limit (decoded size, compression ratio, the JSON's depth and element
 * count, the shared memory budget) rather than after the last. Whatever it decides, it has
 * never held more than the limits allow.
 */
export async function readCallbackBody(
  request: Readable,
  headers: IncomingHttpHeaders,
  limits: CallbackBodyLimits,
  memory: CallbackMemoryShare,
): Promise<CallbackBodyRead> {
  const encoding = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (decoderFor(encoding) === undefined) {
    return refused(400, ZapierMessages.bodyEncoding(encoding), []);
  }
  if (encoding === 'br') {
    // Before a decoder exists: its window is allocated as soon as the output needs it.
    const first = await peekFirstChunk(request);
    if (first !== null) {
      const windowBits = brotliWindowBits(first[0]);
      if (windowBits === null || windowBits > MAX_BROTLI_WINDOW_BITS) {
        return refused(
          413,
          ZapierMessages.bodyBrotliWindow(windowBits, MAX_BROTLI_WINDOW_BITS),
          [],
        );
      }
    }
  }
  return readDecoded(request, headers, limits, memory, encoding);
}

function readDecoded(
  request: Readable,
  headers: IncomingHttpHeaders,
  limits: CallbackBodyLimits,
  memory: CallbackMemoryShare,
  encoding: string,
): Promise<CallbackBodyRead> {
  return new Promise((resolve) => {
    const decoder = decoderFor(encoding) as (Transform & Zlib) | null;
    const source = decoder === null ? request : request.pipe(decoder);
    const scanner = isJsonContentType(headers['content-type'])
      ? new JsonShapeScanner(limits.shape)
      : undefined;
    const chunks: Buffer[] = [];
    let decoded = 0;
    // What the decoder has consumed, not what has arrived: compressed bytes reach it well ahead
    // of what they inflate to, so counting arrivals would let a bomb inflate to the size limit.
    const encoded = (): number => decoder?.bytesWritten ?? decoded;
    let settled = false;
    const settle = (result: CallbackBodyRead): void => {
      if (settled) return;
      settled = true;
      source.removeListener('data', onData);
      if (!result.ok && decoder) {
        request.unpipe(decoder);
        decoder.destroy();
      }
      resolve(result);
    };
    // A request that errors or closes early never ends its decoder: settle on it directly.
    const onAbort = (): void => settle(refused(400, ZapierMessages.bodyAborted(), chunks));
    request.once('error', onAbort);
    request.once('close', () => {
      if (!(request as Readable & { complete?: boolean }).complete) onAbort();
    });
    const onData = (chunk: Buffer): void => {
      decoded += chunk.length;
      if (decoded > limits.maxBytes) {
        settle(refused(413, ZapierMessages.callbackBodyTooLarge(decoded, limits.maxBytes), []));
        return;
      }
      if (
        decoder &&
        decoded > RATIO_CHECKED_FROM_BYTES &&
        decoded > encoded() * MAX_COMPRESSION_RATIO
      ) {
        settle(refused(413, ZapierMessages.bodyCompressionRatio(MAX_COMPRESSION_RATIO), []));
        return;
      }
      const problem = scanner?.push(chunk);
      chunks.push(chunk);
      if (problem) {
        settle(refused(400, shapeProblem(problem, limits.shape), chunks));
        return;
      }
      const share = decoded + (scanner?.elementCount ?? 0) * HEAP_BYTES_PER_JSON_ELEMENT;
      if (!memory.growTo(share)) {
        // One that could never fit is the caller's (413); otherwise Zapier retries a 503 later.
        settle(
          share > memory.limit
            ? refused(413, ZapierMessages.callbackOverMemoryLimit(memory.limit), [])
            : refused(503, ZapierMessages.callbackMemorySpent(), []),
        );
      }
    };
    source.on('data', onData);
    source.on('error', (error: Error) =>
      settle(refused(400, ZapierMessages.bodyUnreadable(error.message), chunks)),
    );
    source.on('end', () =>
      settle({ ok: true, body: Buffer.concat(chunks), receivedBytes: encoded() }),
    );
    // The client may have left while the signature was being verified: its `close` has been
    // and gone, and nothing more will arrive.
    if (request.destroyed && !request.readableEnded) onAbort();
  });
}

function refused(status: 400 | 413 | 503, reason: string, chunks: Buffer[]): CallbackBodyRead {
  return { ok: false, status, reason, partial: Buffer.concat(chunks) };
}

function shapeProblem(problem: 'depth' | 'values', limits: JsonShapeLimits): string {
  return problem === 'depth'
    ? ZapierMessages.bodyTooDeep(limits.maxDepth)
    : ZapierMessages.bodyTooManyValues(limits.maxValues);
}

/** The stream that decodes `encoding`: null for none, undefined when unsupported. */
function decoderFor(encoding: string): (Transform & Zlib) | null | undefined {
  switch (encoding) {
    case 'identity':
    case '':
      return null;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}
