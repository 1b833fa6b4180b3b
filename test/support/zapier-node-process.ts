import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ZapierModuleOptions } from '../../src/interfaces/zapier-module-options.interface.js';
import type { CreateActionRunInput } from '../../src/client/zapier.client.js';

/** The compiled fixture app, next to this file's own compiled location (any out dir). */
export const ZAPIER_NODE_SCRIPT = fileURLToPath(
  new URL('../fixtures/zapier-node.js', import.meta.url),
);

/** How to start one fixture process (see the variables documented in `zapier-node.ts`). */
export interface ZapierNodeConfig {
  instanceId: string;
  database: { url: string } | { sqliteFile: string };
  zapier: { apiUrl: string; jwksUrl: string; accessToken: string; callbackUrl?: string };
  options?: ZapierModuleOptions;
  listener?: { failFirst?: number; delayMs?: number; killOn?: string; trace?: boolean };
  /** `all` or a list of run ids whose polls hang after the sandbox answered. */
  hangPolls?: 'all' | string[];
  /** Nest log levels printed to the process's stderr (kept in `stderrTail()`). */
  logLevels?: string;
  /** Echo the process's stderr to this process's stderr as it comes. */
  echoLogs?: boolean;
  /** Node options before the script (`--import` of a module hook, for instance). */
  execArgv?: string[];
}

/** One stdout line of the fixture, parsed. */
export type NodeLine = Record<string, unknown>;

const STDERR_LINES_KEPT = 400;

/**
 * A fixture app running as a child process: started, waited for until it prints its ready line,
 * then killed (`SIGKILL`) or stopped (`SIGTERM`) by the test.
 */
export class ZapierNodeProcess {
  readonly lines: NodeLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  url = '';
  private readonly stderr: string[] = [];
  private readonly waiters: Array<{
    test(line: NodeLine): boolean;
    resolve(line: NodeLine): void;
  }> = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Lines on stderr that look like errors (counted, even once dropped from the tail). */
  errorLines = 0;

  private constructor(
    readonly config: ZapierNodeConfig,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    createInterface({ input: child.stdout! }).on('line', (text) => this.onLine(text));
    createInterface({ input: child.stderr! }).on('line', (text) => {
      if (/ (error|fatal) /.test(text)) this.errorLines += 1;
      this.stderr.push(text);
      if (this.stderr.length > STDERR_LINES_KEPT) this.stderr.shift();
      if (config.echoLogs) process.stderr.write(`${text}\n`);
    });
  }

  get instanceId(): string {
    return this.config.instanceId;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** Spawns the fixture and resolves once it listens. */
  static async start(
    config: ZapierNodeConfig,
    readyTimeoutMs = 30_000,
  ): Promise<ZapierNodeProcess> {
    const variables: Record<string, string> = {
      INSTANCE_ID: config.instanceId,
      ZAPIER_API_URL: config.zapier.apiUrl,
      ZAPIER_JWKS_URL: config.zapier.jwksUrl,
      ZAPIER_ACCESS_TOKEN: config.zapier.accessToken,
      ZAPIER_OPTIONS: JSON.stringify(config.options ?? {}),
      LOG_LEVELS: config.logLevels ?? 'error,warn',
      PORT: '0',
    };
    if ('url' in config.database) variables.DATABASE_URL = config.database.url;
    else variables.SQLITE_FILE = config.database.sqliteFile;
    if (config.zapier.callbackUrl) variables.ZAPIER_CALLBACK_URL = config.zapier.callbackUrl;
    const { listener = {} } = config;
    if (listener.failFirst) variables.LISTENER_FAIL_FIRST = String(listener.failFirst);
    if (listener.delayMs) variables.LISTENER_DELAY_MS = String(listener.delayMs);
    if (listener.killOn) variables.LISTENER_KILL_ON = listener.killOn;
    if (listener.trace) variables.LISTENER_TRACE = '1';
    if (config.hangPolls) {
      variables.HANG_POLLS = config.hangPolls === 'all' ? 'all' : config.hangPolls.join(',');
    }
    const base = { ...process.env };
    for (const name of ['DATABASE_URL', 'SQLITE_FILE', 'HANG_POLLS'] as const) delete base[name];
    for (const name of Object.keys(base)) if (name.startsWith('LISTENER_')) delete base[name];
    const child = spawn(process.execPath, [...(config.execArgv ?? []), ZAPIER_NODE_SCRIPT], {
      env: { ...base, ...variables },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const node = new ZapierNodeProcess(config, child);
    const ready = node.waitForLine((line) => line.ready === true, readyTimeoutMs);
    const failed = node.exited.then((exit) => {
      throw new Error(
        `${config.instanceId} exited before it was ready (${JSON.stringify(exit)}):\n${node.stderrTail()}`,
      );
    });
    // Whichever loses the race settles later; neither may become an unhandled rejection.
    ready.catch(() => undefined);
    failed.catch(() => undefined);
    const line = await Promise.race([ready, failed]).catch((error: unknown) => {
      node.kill('SIGKILL');
      throw error;
    });
    node.url = `http://127.0.0.1:${Number(line.port)}`;
    return node;
  }

  /** Resolves with the first stdout line (already printed or to come) that matches. */
  waitForLine(test: (line: NodeLine) => boolean, timeoutMs = 30_000): Promise<NodeLine> {
    const seen = this.lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.instanceId}: no matching line within ${timeoutMs} ms.`));
      }, timeoutMs);
      this.waiters.push({
        test,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  /** The last lines the process wrote to stderr (its logs), for failure messages. */
  stderrTail(lines = 60): string {
    return this.stderr.slice(-lines).join('\n');
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** SIGKILL, resolved once the process is gone (nothing it had in flight survives). */
  async crash(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (graceful close), then SIGKILL if it is still running after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<{ graceful: boolean }> {
    if (!this.alive) return { graceful: true };
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return { graceful: exit.signal !== 'SIGKILL' };
  }

  /** Starts runs through this instance's `ZapierClient` (`POST /test/runs`). */
  async createRuns(
    runs: CreateActionRunInput[],
  ): Promise<Array<{ id: string } | { error: string }>> {
    const response = await fetch(`${this.url}/test/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ runs }),
    });
    if (response.status !== 200) {
      throw new Error(`${this.instanceId}: POST /test/runs answered ${response.status}.`);
    }
    return ((await response.json()) as { results: Array<{ id: string } | { error: string }> })
      .results;
  }

  private onLine(text: string): void {
    let line: NodeLine;
    try {
      line = JSON.parse(text) as NodeLine;
    } catch {
      line = { text };
    }
    this.lines.push(line);
    for (const waiter of [...this.waiters]) {
      if (!waiter.test(line)) continue;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  }
}
