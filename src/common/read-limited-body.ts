/** A response body was longer than the limit it was read with; the rest was not read. */
export class ZapierBodyTooLargeError extends Error {
  override readonly name = 'ZapierBodyTooLargeError';

  constructor(readonly limit: number) {
    super(`response body over ${limit} bytes`);
  }
}

/**
 * Reads a `fetch` response body as UTF-8 text (as `response.text()` does), counting bytes as
 * they arrive and cancelling the stream once more than `limit` bytes came, so an endless or huge
 * body never sits in memory. The count is of the decoded body, after any `content-encoding`.
 */
export async function readLimitedText(response: Response, limit: number): Promise<string> {
  if (!response.body) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new ZapierBodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}
