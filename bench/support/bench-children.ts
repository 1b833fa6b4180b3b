import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Path of a compiled bench script next to the running one (works from `out/` or another out dir). */
export function benchScript(name: string): string {
  return fileURLToPath(new URL(`../${name}`, import.meta.url));
}

/**
 * A child process spoken to over IPC: `request()` sends a message and resolves with the next
 * message of the expected type, or rejects if the child reports `failed` or exits.
 */
export class ChildLink<In extends { type: string }, Out extends { type: string }> {
  private readonly child: ChildProcess;
  private readonly waiters: Array<{
    type: string;
    resolve(message: Out): void;
    reject(error: Error): void;
  }> = [];
  private readonly stderr: string[] = [];
  private exited: Error | undefined;
  readonly exit: Promise<number | null>;

  constructor(script: string, args: string[], options: { execArgv?: string[] } = {}) {
    this.child = fork(script, args, {
      execArgv: options.execArgv ?? [],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr.push(chunk.toString());
      if (this.stderr.length > 50) this.stderr.shift();
    });
    this.child.on('message', (message: Out) => this.dispatch(message));
    // A message to a child that is exiting fails with EPIPE; the exit handler reports the rest.
    this.child.on('error', () => undefined);
    this.exit = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exited = new Error(
          `${script} exited (${signal ?? `code ${code}`}): ${this.stderrTail() || '(no stderr)'}`,
        );
        this.waiters.splice(0).forEach((waiter) => waiter.reject(this.exited as Error));
        resolve(code);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  stderrTail(): string {
    return this.stderr.join('').trim().split('\n').slice(-15).join('\n');
  }

  /** Resolves with the next message of `type` (sending `message` first, if given). */
  request<T extends Out['type']>(
    message: In | null,
    type: T,
    timeoutMs = 60_000,
  ): Promise<Extract<Out, { type: T }>> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`No "${type}" answer within ${timeoutMs} ms. ${this.stderrTail()}`));
      }, timeoutMs);
      const waiter = {
        type,
        resolve: (answer: Out) => {
          clearTimeout(timer);
          resolve(answer as Extract<Out, { type: T }>);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.push(waiter);
      if (message) this.child.send(message);
    });
  }

  send(message: In): void {
    if (!this.exited && this.child.connected) this.child.send(message, () => undefined);
  }

  /** Asks nicely (`stop`), then kills this child if it is still there after `graceMs`. */
  async stop(stopMessage: In, graceMs = 5000): Promise<void> {
    if (this.exited) return;
    this.send(stopMessage);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
  }

  private dispatch(message: Out): void {
    if (message.type === 'failed') {
      const error = new Error((message as unknown as { message: string }).message);
      this.waiters.splice(0).forEach((waiter) => waiter.reject(error));
      return;
    }
    const index = this.waiters.findIndex((waiter) => waiter.type === message.type);
    if (index >= 0) this.waiters.splice(index, 1)[0].resolve(message);
  }
}
