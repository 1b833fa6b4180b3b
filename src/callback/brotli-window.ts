import type { Readable } from 'node:stream';

/**
 * Largest brotli window accepted: 4 MiB (WBITS 22), the default of brotli's own tools and of
 * Node's, Python's and Go's encoders. A decoder allocates its window as a ring buffer as soon
 * as the output needs it, up to 16 MiB (WBITS 24), on a libuv thread whose freed memory the
 * allocator keeps: a few bombs a second declaring the largest window grew the hostile-traffic
 * benchmark's RSS by 80 MB, where gzip bombs (32 KiB windows) grew it by 14.
 */
export const MAX_BROTLI_WINDOW_BITS = 22;

/**
 * The window size (WBITS, 10 to 24) a brotli stream declares in its first bits (RFC 7932,
 * section 9.1), or `null` for a stream that asks for the large-window extension, which Node's
 * decoder refuses anyway.
 */
export function brotliWindowBits(firstByte: number): number | null {
  if ((firstByte & 0b1) === 0) return 16;
  const n = (firstByte >> 1) & 0b111;
  if (n !== 0) return 17 + n;
  const m = (firstByte >> 4) & 0b111;
  if (m === 1) return null;
  return m === 0 ? 17 : 8 + m;
}

/**
 * The first chunk of `stream`, put back so that whoever reads next reads it again; `null` when
 * the stream ends, fails or closes before any byte.
 */
export function peekFirstChunk(stream: Readable): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const finish = (chunk: Buffer | null): void => {
      stream.removeListener('readable', onReadable);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onEnd);
      stream.removeListener('close', onEnd);
      resolve(chunk);
    };
    const onReadable = (): void => {
      const chunk = stream.read() as Buffer | null;
      if (chunk === null) return;
      stream.unshift(chunk);
      finish(chunk);
    };
    const onEnd = (): void => finish(null);
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('error', onEnd);
    stream.once('close', onEnd);
  });
}
