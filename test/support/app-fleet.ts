import type { ZapierSandbox } from '../../src/testing/index.js';
import { freshDatabase, type Engine } from './data-sources.js';
import { startZapierApp, type ZapierApp, type ZapierAppOptions } from './zapier-app.js';

/**
 * The apps a spec starts, each on a fresh database named `${prefix}_${name}`, verifying against
 * the sandbox's JWKS; `closeAll()` (in an `afterEach`) stops them and drops their databases.
 */
export class AppFleet {
  readonly apps: ZapierApp[] = [];
  private readonly cleanups: Array<() => void> = [];

  constructor(
    private readonly engine: Engine,
    private readonly prefix: string,
    private readonly sandbox: () => ZapierSandbox,
  ) {}

  async start(name: string, options: Partial<ZapierAppOptions> = {}): Promise<ZapierApp> {
    const db = await freshDatabase(this.engine, `${this.prefix}_${name}`);
    this.cleanups.push(db.cleanup);
    const zapier = await startZapierApp({
      adapter: 'express',
      database: db.options,
      ...options,
      zapier: { jwksUrl: this.sandbox().jwksUrl, ...options.zapier },
    });
    this.apps.push(zapier);
    return zapier;
  }

  async closeAll(): Promise<void> {
    for (const app of this.apps.splice(0)) await app.close();
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }
}
