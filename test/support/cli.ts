import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = realpathSync(fileURLToPath(new URL('../../../', import.meta.url)));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
};

/** The `nestjs-zapier` bin as package.json names it (dist/, built before the specs run). */
export const CLI = join(root, pkg.bin['nestjs-zapier']);

/** How one CLI run ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a child process to the end. */
export function runCli(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: options.cwd, timeout: 60_000, env: { ...process.env, ...options.env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** What a run printed with `--json`, after checking it exited `code`. */
export function jsonOf<T>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}): ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

/** A run's whole output, for assertion messages. */
export const described = (run: CliRun): string =>
  `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;

/**
 * A folder standing in for the host's project: `node_modules` holds `typeorm` and this package
 * (as installed dependencies would), so a data source file written there imports them by name.
 */
export function hostProject(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'nestjs-zapier-host-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'nestjs-zapier'), 'dir');
  symlinkSync(join(root, 'node_modules', 'typeorm'), join(dir, 'node_modules', 'typeorm'), 'dir');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A free TCP port on 127.0.0.1, for a server that must be named before it starts. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A long-running CLI command (the sandbox): its output lines as they come, and its exit. */
export class CliProcess {
  readonly lines: string[] = [];
  readonly exit: Promise<number | null>;
  private stderrText = '';
  private readonly child: ChildProcess;

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const complete = text.split('\n');
      partial = complete.pop() ?? '';
      this.lines.push(...complete);
    });
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderrText += chunk.toString()));
    this.exit = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** The JSON lines printed so far (with `--json`). */
  events(): Array<Record<string, unknown>> {
    return this.lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Resolves with the first JSON line that `match` accepts, or fails after `timeoutMs`. */
  async waitForEvent(
    match: (event: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events().find(match);
      if (found) return found;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`no such line; stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends `signal` and resolves with the exit code. */
  stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exit;
  }
}
