import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import type { Progress } from './progress.js';

const QUIET: LogLevel[] = ['warn', 'error', 'fatal'];
const ALL: LogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal'];

/**
 * Nest's console logger, quiet unless `--verbose`, printing around the live progress line and
 * keeping the warnings and errors for the summary.
 */
export class DemoLogger extends ConsoleLogger {
  readonly warnings: string[] = [];
  readonly errors: string[] = [];
  progress: Progress | undefined;

  constructor(verbose: boolean) {
    super({ logLevels: verbose ? ALL : QUIET, colors: process.stdout.isTTY === true });
  }

  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    const text = `${context ? `[${context}] ` : ''}${messages.map(String).join(' ')}`;
    if (logLevel === 'warn') this.warnings.push(text);
    if (logLevel === 'error' || logLevel === 'fatal') this.errors.push(text);
    const print = () =>
      super.printMessages(messages, context, logLevel, writeStreamType, errorStack, params);
    if (this.progress) this.progress.around(print);
    else print();
  }
}
