import type { CliStorage } from './cli-storage.js';
import type { ZapierRetentionOptions } from '../interfaces/zapier-module-options.interface.js';

/**
 * `withStorage()` of `cli-storage.ts`, loaded when a command runs rather than when the command
 * list is built: TypeORM, Nest and the module take most of a second to load, and `--help` or a
 * usage error should not wait for them.
 */
export async function withStorage<T>(
  dataSourceFile: string,
  work: (storage: CliStorage) => Promise<T>,
  retention?: ZapierRetentionOptions,
): Promise<T> {
  const { withStorage: run } = await import('./cli-storage.js');
  return run(dataSourceFile, work, retention);
}
