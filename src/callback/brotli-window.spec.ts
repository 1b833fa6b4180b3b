import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brotliCompressSync, constants } from 'node:zlib';
import { brotliWindowBits } from './brotli-window.js';

describe('brotliWindowBits', () => {
  it("reads the window every window size of Node's encoder declares", () => {
    const body = Buffer.from(JSON.stringify({ data: { results: Array(5000).fill({ a: 1 }) } }));
    for (let bits = 10; bits <= 24; bits++) {
      const stream = brotliCompressSync(body, {
        params: {
          [constants.BROTLI_PARAM_LGWIN]: bits,
          [constants.BROTLI_PARAM_SIZE_HINT]: 1 << 30,
        },
      });
      const declared = brotliWindowBits(stream[0]);
      // An encoder may declare a smaller window than asked for a small input, never a larger one.
      assert.ok(declared !== null && declared <= bits, `lgwin ${bits} declared ${declared}`);
    }
  });

  it('follows RFC 7932 section 9.1 bit for bit', () => {
    assert.equal(brotliWindowBits(0b0), 16);
    assert.equal(brotliWindowBits(0b1011), 22); // 1, then n = 5
    assert.equal(brotliWindowBits(0b1111), 24); // 1, then n = 7
    assert.equal(brotliWindowBits(0b0000001), 17); // 1, n = 0, m = 0
    assert.equal(brotliWindowBits(0b0010001), null); // m = 1: the large-window extension
    assert.equal(brotliWindowBits(0b1110001), 15); // m = 7
  });
});
