import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '@nestjs/common';
import { ZapierMessages } from '../zapier.messages.js';
import { RateLimitedLog } from './rate-limited-log.js';

describe('RateLimitedLog', () => {
  const setup = () => {
    const lines: string[] = [];
    let now = 0;
    const logger = { warn: (line: string) => lines.push(line) } as unknown as Logger;
    const log = new RateLimitedLog(logger, 2, () => now);
    return { lines, log, advance: (ms: number) => (now += ms) };
  };

  it('logs a few warnings of a kind a minute, builds the others never, and counts them', () => {
    const { lines, log, advance } = setup();
    let built = 0;
    const message = () => `bad ${++built}`;
    for (let i = 0; i < 1000; i++) log.warn('bad', message);
    assert.deepEqual(lines, ['bad 1', 'bad 2']);
    assert.equal(built, 2, 'messages left out are never built');
    advance(60_000);
    log.warn('bad', message);
    assert.deepEqual(lines.at(-1), `bad 3 ${ZapierMessages.warningsSkipped(998)}`);
  });

  it('keeps kinds apart', () => {
    const { lines, log } = setup();
    for (let i = 0; i < 5; i++) {
      log.warn('a', () => 'a');
      log.warn('b', () => 'b');
    }
    assert.deepEqual(lines, ['a', 'b', 'a', 'b']);
  });
});
