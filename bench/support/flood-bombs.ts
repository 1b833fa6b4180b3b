import { once } from 'node:events';
import type { Transform } from 'node:stream';
import { constants, createBrotliCompress, gzipSync } from 'node:zlib';
import { MAX_BROTLI_WINDOW_BITS } from '../../src/callback/brotli-window.js';

const MiB = 1024 * 1024;
/** What a bomb inflates to: the start of a callback, then JSON whitespace inside its results. */
const PREFIX = '{"data":{"type":"run","id":"arun_bomb","status":"success","results":[';
export const BOMB_INFLATED_BYTES = 1024 * MiB;
/** gzip's ratio tops out near 1,030:1, so its bomb is members of this size, concatenated. */
const GZIP_MEMBER_BYTES = 64 * MiB;

async function compress(stream: Transform, total: number): Promise<Buffer> {
  const out: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = once(stream, 'end');
  const spaces = Buffer.alloc(16 * MiB, 0x20);
  stream.write(PREFIX);
  for (let left = total - PREFIX.length; left > 0; left -= spaces.length) {
    const chunk = left >= spaces.length ? spaces : spaces.subarray(0, left);
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
  await ended;
  return Buffer.concat(out);
}

/**
 * A brotli body of about 1.4 KB that inflates to 1 GiB (quality 2: built in about 2 s), with the
 * largest window the module decodes (4 MiB, src/callback/brotli-window.ts): a larger one is
 * refused on its first byte, without a decoder, so it would measure nothing.
 */
export function brotliBomb(): Promise<Buffer> {
  return compress(
    createBrotliCompress({
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 2,
        [constants.BROTLI_PARAM_LGWIN]: MAX_BROTLI_WINDOW_BITS,
        [constants.BROTLI_PARAM_SIZE_HINT]: BOMB_INFLATED_BYTES,
      },
    }),
    BOMB_INFLATED_BYTES,
  );
}

/**
 * A gzip body of about 1 MiB that inflates to 1 GiB: one member of spaces repeated (a gzip
 * stream may hold several members, and Node's gunzip reads them all), the first one starting
 * with the callback's prefix.
 */
export function gzipBomb(): Buffer {
  const spaces = Buffer.alloc(GZIP_MEMBER_BYTES, 0x20);
  const first = Buffer.concat([Buffer.from(PREFIX), spaces.subarray(PREFIX.length)]);
  const member = gzipSync(spaces, { level: 9 });
  const members = [gzipSync(first, { level: 9 })];
  while (members.length * GZIP_MEMBER_BYTES < BOMB_INFLATED_BYTES) members.push(member);
  return Buffer.concat(members);
}
