import { after, before, beforeEach } from 'node:test';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { TestLogger } from './test-logger.js';

/**
 * Captures what Nest's `Logger` writes during a spec file (emptied before each test), for specs
 * that build the module's classes without an app.
 */
export function captureNestLogs(): TestLogger {
  const logs = new TestLogger();
  before(() => {
    Logger.overrideLogger(logs);
  });
  after(() => {
    Logger.overrideLogger(new ConsoleLogger());
  });
  beforeEach(() => {
    logs.entries.length = 0;
  });
  return logs;
}

/** Resolves with what `promise` settled with, or fails after `ms` real milliseconds. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
