import type { LoggerService } from '@nestjs/common';

export interface LogEntry {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  message: string;
  context: string | undefined;
}

/**
 * Collects what the app logs, for assertions, and keeps the test output quiet (set
 * TEST_LOGS=1 to print it too).
 */
export class TestLogger implements LoggerService {
  readonly entries: LogEntry[] = [];

  private add(level: LogEntry['level'], message: unknown, params: unknown[]): void {
    const context = typeof params.at(-1) === 'string' ? (params.at(-1) as string) : undefined;
    const entry = { level, message: String(message), context };
    this.entries.push(entry);
    if (process.env.TEST_LOGS) console.log(`[${level}] ${context ?? ''} ${entry.message}`);
  }

  log(message: unknown, ...params: unknown[]): void {
    this.add('log', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.add('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.add('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.add('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.add('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.add('fatal', message, params);
  }

  /**
   * Entries of the level whose message is `expected` (a string, usually from `ZapierMessages`)
   * or matches it (a RegExp, for text that is partly a third party's).
   */
  find(level: LogEntry['level'], expected: RegExp | string): LogEntry[] {
    const matches = (message: string) =>
      typeof expected === 'string' ? message === expected : expected.test(message);
    return this.entries.filter((entry) => entry.level === level && matches(entry.message));
  }
}
