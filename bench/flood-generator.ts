import { performance } from 'node:perf_hooks';
import { brotliBomb, BOMB_INFLATED_BYTES, gzipBomb } from './support/flood-bombs.js';
import {
  FLOOD_KINDS,
  type FloodKind,
  type FloodKindResult,
  type FloodResult,
  type FloodSpec,
  type FloodToParent,
  type ParentToFlood,
} from './support/flood-messages.js';
import { median } from './support/latency-recorder.js';
import { randomKidTokens } from './support/random-kid-tokens.js';
import { rawExchange, type RawOutcome } from './support/raw-exchange.js';

/**
 * The hostile traffic of `bench/hostile.ts`, in its own process so that it takes nothing from
 * the load generator's event loop: unsigned uploads at the body limit on many connections, each
 * reconnecting when closed, and paced streams of compressed bombs (unsigned and signed) and of
 * tokens with a random `kid`. Driven over IPC: `start`, then `stop` answers with the counts.
 */

const RANDOM_KID_TOKENS = 1000;
const PACE_TICK_MS = 10;
/** An upload the server neither answers nor closes is given up after this long. */
const EXCHANGE_TIMEOUT_MS = 30_000;

const [brBomb, gzBomb, kidTokens] = await Promise.all([
  brotliBomb(),
  Promise.resolve(gzipBomb()),
  randomKidTokens(RANDOM_KID_TOKENS),
]);

class KindCounter {
  sent = 0;
  bytesWritten = 0;
  readonly statuses: Record<string, number> = {};
  readonly firstBodies: Record<string, string> = {};
  readonly closeAfterAnswer: number[] = [];
  readonly answer: number[] = [];
  inFlight = 0;

  record(outcome: RawOutcome): void {
    const key = outcome.status === null ? 'network' : String(outcome.status);
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
    if (outcome.status !== null) this.firstBodies[key] ??= outcome.body;
    this.bytesWritten += outcome.bytesWritten;
    if (outcome.closeAfterAnswerMs !== null) this.closeAfterAnswer.push(outcome.closeAfterAnswerMs);
    if (outcome.answerMs !== null) this.answer.push(outcome.answerMs);
  }

  result(): FloodKindResult {
    const ms = (values: number[]) => (values.length > 0 ? Math.round(median(values)) : null);
    return {
      sent: this.sent,
      statuses: { ...this.statuses },
      firstBodies: { ...this.firstBodies },
      bytesWritten: this.bytesWritten,
      closeAfterAnswerMs: ms(this.closeAfterAnswer),
      answerMs: ms(this.answer),
      unfinished: this.inFlight,
    };
  }
}

/** One flood, from `start` to `stop`. */
class Flood {
  private running = true;
  private readonly counters = new Map<FloodKind, KindCounter>(
    FLOOD_KINDS.map((kind) => [kind, new KindCounter()]),
  );
  private readonly aborts = new Set<() => void>();
  private readonly loops: Promise<void>[] = [];
  private readonly pacer: NodeJS.Timeout;
  private readonly started = performance.now();
  private readonly cpuAtStart = process.cpuUsage();
  private readonly target: URL;
  private signedIndex = 0;
  private kidIndex = 0;

  constructor(private readonly spec: FloodSpec) {
    this.target = new URL(spec.url);
    for (let i = 0; i < spec.uploadConnections; i += 1) this.loops.push(this.uploadLoop());
    const issued = new Map<FloodKind, number>();
    this.pacer = setInterval(() => {
      const elapsed = (performance.now() - this.started) / 1000;
      for (const [kind, perSecond] of Object.entries(spec.paced) as Array<[FloodKind, number]>) {
        const due = Math.floor(perSecond * elapsed) - (issued.get(kind) ?? 0);
        const counter = this.counters.get(kind) as KindCounter;
        // A request not sent because too many are in flight is skipped, not owed.
        for (let i = 0; i < due; i += 1) {
          if (counter.inFlight < spec.maxInFlight) void this.send(kind);
        }
        issued.set(kind, (issued.get(kind) ?? 0) + Math.max(0, due));
      }
    }, PACE_TICK_MS);
  }

  private head(headers: Record<string, string | number>): string {
    const lines = Object.entries({
      host: this.target.host,
      'content-type': 'application/json',
      ...headers,
    }).map(([name, value]) => `${name}: ${value}`);
    return `POST ${this.target.pathname} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
  }

  private request(kind: FloodKind): { head: string; body: Buffer | { stream: number } } {
    const signed = () => this.spec.signedTokens[this.signedIndex++ % this.spec.signedTokens.length];
    switch (kind) {
      case 'upload':
        return {
          head: this.head({ 'content-length': this.spec.uploadBytes }),
          body: { stream: this.spec.uploadBytes },
        };
      case 'bomb-br-unsigned':
      case 'bomb-br-signed':
      case 'bomb-gzip-unsigned':
      case 'bomb-gzip-signed': {
        const bomb = kind.startsWith('bomb-br') ? brBomb : gzBomb;
        return {
          head: this.head({
            'content-length': bomb.length,
            'content-encoding': kind.startsWith('bomb-br') ? 'br' : 'gzip',
            ...(kind.endsWith('-signed') ? { 'zapier-callback-signature': signed() } : {}),
          }),
          body: bomb,
        };
      }
      case 'random-kid': {
        const body = Buffer.from(
          `{"data":{"type":"run","id":"arun_forged_${this.kidIndex}","status":"success","results":[],"errors":[]}}`,
        );
        return {
          head: this.head({
            'content-length': body.length,
            'zapier-callback-signature': kidTokens[this.kidIndex++ % kidTokens.length],
          }),
          body,
        };
      }
    }
  }

  private async send(kind: FloodKind): Promise<void> {
    const counter = this.counters.get(kind) as KindCounter;
    const { head, body } = this.request(kind);
    counter.sent += 1;
    counter.inFlight += 1;
    let abort: () => void = () => undefined;
    const outcome = await rawExchange(
      {
        host: this.target.hostname,
        port: Number(this.target.port),
        head,
        body,
        timeoutMs: EXCHANGE_TIMEOUT_MS,
      },
      (handle) => {
        abort = handle;
        this.aborts.add(handle);
      },
    );
    this.aborts.delete(abort);
    counter.inFlight -= 1;
    // What the server had not answered when the flood stopped is counted as unfinished only.
    if (this.running || outcome.status !== null) counter.record(outcome);
  }

  private async uploadLoop(): Promise<void> {
    while (this.running) await this.send('upload');
  }

  async stop(): Promise<FloodResult> {
    this.running = false;
    clearInterval(this.pacer);
    const seconds = (performance.now() - this.started) / 1000;
    const kinds = Object.fromEntries(
      FLOOD_KINDS.map((kind) => [kind, (this.counters.get(kind) as KindCounter).result()]),
    ) as Record<FloodKind, FloodKindResult>;
    const cpu = process.cpuUsage(this.cpuAtStart);
    this.aborts.forEach((abort) => abort());
    await Promise.all(this.loops);
    return { seconds, kinds, cpuShare: (cpu.user + cpu.system) / 1e6 / seconds };
  }
}

if (process.send) {
  const reply = (message: FloodToParent) => process.send?.(message);
  let flood: Flood | null = null;
  process.on('message', (message: ParentToFlood) => {
    if (message.type === 'start') {
      flood = new Flood(message.spec);
      reply({ type: 'started' });
    } else if (message.type === 'stop') {
      const stopping = flood;
      flood = null;
      if (!stopping) reply({ type: 'failed', message: 'stop without a running flood' });
      else {
        stopping.stop().then(
          (result) => reply({ type: 'result', result }),
          (error: unknown) => reply({ type: 'failed', message: String(error) }),
        );
      }
    } else {
      process.disconnect();
    }
  });
  reply({
    type: 'ready',
    bombs: {
      br: { wire: brBomb.length, inflated: BOMB_INFLATED_BYTES },
      gzip: { wire: gzBomb.length, inflated: BOMB_INFLATED_BYTES },
    },
  });
}
