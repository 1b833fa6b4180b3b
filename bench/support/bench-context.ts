import { ZapierSandbox } from '../../src/testing/index.js';
import type {
  LoadResult,
  LoadSpec,
  LoadToParent,
  ParentToLoad,
  ParentToServer,
  ServerSpec,
  ServerStats,
  ServerToParent,
} from './bench-messages.js';
import { benchScript, ChildLink } from './bench-children.js';

/** Tokens live 5 minutes (plus 30 s tolerance); a pool older than this is signed again. */
const TOKEN_REFRESH_MS = 120_000;
const SIGN_CONCURRENCY = 64;

/**
 * What the throughput and memory runs share: the sandbox (JWKS and signer) in this process, and
 * the load generator in its own.
 */
export class BenchContext {
  private tokens: string[] = [];
  private signedAt = 0;

  private constructor(
    readonly sandbox: ZapierSandbox,
    readonly load: ChildLink<ParentToLoad, LoadToParent>,
    private readonly tokenCount: number,
  ) {}

  static async create(tokenCount: number): Promise<BenchContext> {
    const sandbox = await ZapierSandbox.start({ rateLimit: false });
    const load = new ChildLink<ParentToLoad, LoadToParent>(benchScript('load-generator.js'), []);
    return new BenchContext(sandbox, load, tokenCount);
  }

  /** A pool of valid `Zapier-Callback-Signature` tokens, signed with the sandbox's key. */
  async freshTokens(): Promise<string[]> {
    if (Date.now() - this.signedAt < TOKEN_REFRESH_MS) return this.tokens;
    const tokens: string[] = [];
    for (let i = 0; i < this.tokenCount; i += SIGN_CONCURRENCY) {
      const batch = Math.min(SIGN_CONCURRENCY, this.tokenCount - i);
      tokens.push(
        ...(await Promise.all(Array.from({ length: batch }, () => this.sandbox.signer.sign()))),
      );
    }
    this.tokens = tokens;
    this.signedAt = Date.now();
    return tokens;
  }

  async applyLoad(spec: Omit<LoadSpec, 'tokens'>, timeoutMs: number): Promise<LoadResult> {
    const tokens = await this.freshTokens();
    const answer = await this.load.request(
      { type: 'run', spec: { ...spec, tokens } },
      'result',
      timeoutMs,
    );
    return answer.result;
  }

  async close(): Promise<void> {
    await this.load.stop({ type: 'stop' });
    await this.sandbox.stop();
  }
}

/** A running benchmark server process. */
export class BenchServer {
  private constructor(
    private readonly link: ChildLink<ParentToServer, ServerToParent>,
    readonly url: string,
    readonly durability: string,
    readonly startStats: ServerStats,
  ) {}

  static async start(spec: ServerSpec, execArgv: string[] = []): Promise<BenchServer> {
    const link = new ChildLink<ParentToServer, ServerToParent>(
      benchScript('bench-server.js'),
      ['--spec', JSON.stringify(spec)],
      { execArgv },
    );
    try {
      const ready = await link.request(null, 'ready', 60_000);
      return new BenchServer(
        link,
        `http://127.0.0.1:${ready.port}/zapier/callbacks`,
        ready.durability,
        ready.stats,
      );
    } catch (error) {
      await link.stop({ type: 'stop' }, 1000);
      throw error;
    }
  }

  /**
   * The server's counters and memory; with `gc`, also its memory after a full GC; with
   * `resetPeak`, its RSS high-water mark starts again from now.
   */
  async stats(gc = false, resetPeak = false): Promise<ServerStats> {
    return (await this.link.request({ type: 'stats', gc, resetPeak }, 'stats', 10_000)).stats;
  }

  /**
   * Waits until the events emitted reach `expected` and stop changing (events go out after the
   * commit, so a few may still be on their way when the last answer arrives); gives up once the
   * count has not moved for 3 s.
   */
  async settledStats(expected: number): Promise<ServerStats> {
    let last = await this.stats();
    let stableSince = Date.now();
    for (;;) {
      if (last.events >= expected && Date.now() - stableSince >= 250) return last;
      if (Date.now() - stableSince >= 3000) return last;
      await new Promise((resolve) => setTimeout(resolve, 100));
      const next = await this.stats();
      if (next.events !== last.events) stableSince = Date.now();
      last = next;
    }
  }

  stop(): Promise<void> {
    return this.link.stop({ type: 'stop' }, 10_000);
  }
}
