import 'reflect-metadata';
import { loadavg } from 'node:os';
import { BenchContext, BenchServer } from './support/bench-context.js';
import { benchScript, ChildLink } from './support/bench-children.js';
import { freshBenchDatabase } from './support/bench-databases.js';
import type { LoadResult } from './support/bench-messages.js';
import {
  HELP,
  pairName,
  parseBenchArgs,
  type BenchOptions,
  type Pair,
} from './support/bench-options.js';
import {
  FLOOD_KINDS,
  type BombSizes,
  type FloodKind,
  type FloodKindResult,
  type FloodResult,
  type FloodSpec,
  type FloodToParent,
  type ParentToFlood,
} from './support/flood-messages.js';
import { formatHostile } from './support/hostile-report.js';
import { isEntryPoint } from './support/is-entry-point.js';
import { RssSampler, type MemoryAtPeak } from './support/rss-sampler.js';

/**
 * The hostile-traffic scenario (issue 10 §9): genuine signed callbacks at the standard load,
 * in rounds without and with a flood beside them (unsigned uploads at the body limit, compressed
 * bombs, random-kid tokens) from its own process, on the same server; the server's RSS before,
 * at its peak during the floods and after, and what the flood was answered.
 */

const MiB = 1024 * 1024;

/** The flood of every flooded round (the sizes are the module's defaults). */
export const FLOOD_MIX: Omit<FloodSpec, 'url' | 'signedTokens'> = {
  uploadConnections: 50,
  // `callbackBodyLimit`'s default: the largest body a signed sender could send.
  uploadBytes: 20 * MiB,
  // A signed bomb needs a valid token (a replayed one: the token does not cover the body), so
  // fewer of them; each costs the server its inflation up to the ratio cap.
  paced: {
    'bomb-br-unsigned': 10,
    'bomb-gzip-unsigned': 10,
    'bomb-br-signed': 2,
    'bomb-gzip-signed': 2,
    'random-kid': 50,
  },
  maxInFlight: 100,
};
/** The flood starts this long before its round is measured, so the round sees it at full force. */
const RAMP_MS = 1000;
/**
 * After a flood, the next round waits this long: the module keeps a refused upload's socket
 * open for up to 1 s after its answer (src/callback/refuse-early.ts), and those sockets should be
 * gone.
 */
const SETTLE_MS = 2500;
/**
 * Genuine load before anything is measured: the server's RSS grows for its first 20,000 or so
 * callbacks whatever else happens (see the memory check), and that growth is not the flood's.
 */
const WARMUP_MIN_MS = 15_000;
/** Rounds in this order, so that a drift in the machine's speed hits both kinds alike. */
const ORDER = ['baseline', 'flood', 'flood', 'baseline'] as const;

export interface HostileRound {
  kind: 'baseline' | 'flood';
  rate: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface GenuineFigures {
  /** Mean of the rounds' callbacks/s. */
  rate: number;
  /** Pooled over the rounds of this kind. */
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx answers and network errors to genuine signed callbacks. */
  refused: number;
  statuses: Record<string, number>;
  firstError: string | null;
}

export interface HostilePairResult {
  pair: string;
  durability: string;
  roundSeconds: number;
  rounds: HostileRound[];
  baseline: GenuineFigures;
  flooded: GenuineFigures;
  /** flooded.rate ÷ baseline.rate. */
  throughputShare: number;
  rssMb: {
    /** Just before the first flood. */
    before: number;
    /** Highest sample (every 100 ms) during the floods, ramps and settling included. */
    peakSampled: number;
    samples: number;
    /** The kernel's high-water mark over the same stretch (null without /proc). */
    peakKernel: number | null;
    /** After the last round, once the events settled. */
    after: number;
    /** max(peaks) − before. */
    growth: number;
    /** At the highest sample, in MB: V8's heap (reserved and used) and external memory. */
    atPeak: { heapTotal: number; heapUsed: number; external: number } | null;
    /** The same just before the first flood. */
    atStart: { heapTotal: number; heapUsed: number; external: number };
  };
  /** The flood's requests over both flooded rounds. */
  flood: FloodResult;
  /** JWKS requests the sandbox saw while a flood ran, and per second of flood. */
  jwksFetches: number;
  jwksPerSecond: number;
  events: number;
  ackedDistinctIds: number;
  seconds: number;
}

export interface HostileResult {
  bombs: BombSizes;
  mix: Omit<FloodSpec, 'url' | 'signedTokens'>;
  connections: number;
  loadAverage: { start: number; end: number };
  /** glibc's `MALLOC_ARENA_MAX` the servers ran with (inherited from this process), if set. */
  mallocArenaMax: string | null;
  pairs: HostilePairResult[];
}

const mb = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;
const heapMb = (memory: Omit<MemoryAtPeak, 'rss'>) => ({
  heapTotal: mb(memory.heapTotal),
  heapUsed: mb(memory.heapUsed),
  external: mb(memory.external),
});

/** `FLOOD_MIX` with only `kinds` in it (the others send nothing). */
export function floodMixOf(kinds: readonly FloodKind[]): Omit<FloodSpec, 'url' | 'signedTokens'> {
  const paced = Object.fromEntries(
    Object.entries(FLOOD_MIX.paced).map(([kind, rate]) => [
      kind,
      kinds.includes(kind as FloodKind) ? rate : 0,
    ]),
  ) as FloodSpec['paced'];
  return {
    ...FLOOD_MIX,
    uploadConnections: kinds.includes('upload') ? FLOOD_MIX.uploadConnections : 0,
    paced,
  };
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function genuine(rates: number[], load: LoadResult): GenuineFigures {
  return {
    rate: rates.reduce((sum, rate) => sum + rate, 0) / Math.max(1, rates.length),
    p50Ms: load.pooled.p50Ms,
    p99Ms: load.pooled.p99Ms,
    requests: load.totals.sent,
    refused: load.totals.errors,
    statuses: load.totals.statuses,
    firstError: load.totals.firstError,
  };
}

/** Sums the counts of several floods (medians: the mean of the floods' medians). */
function mergeFloods(floods: FloodResult[]): FloodResult {
  const mean = (values: Array<number | null>) => {
    const known = values.filter((value): value is number => value !== null);
    return known.length > 0 ? Math.round(known.reduce((a, b) => a + b, 0) / known.length) : null;
  };
  const kinds = Object.fromEntries(
    FLOOD_KINDS.map((kind): [FloodKind, FloodKindResult] => {
      const all = floods.map((flood) => flood.kinds[kind]);
      const statuses: Record<string, number> = {};
      const firstBodies: Record<string, string> = {};
      for (const one of all) {
        for (const [status, count] of Object.entries(one.statuses)) {
          statuses[status] = (statuses[status] ?? 0) + count;
        }
        Object.entries(one.firstBodies).forEach(([status, body]) => (firstBodies[status] ??= body));
      }
      return [
        kind,
        {
          sent: all.reduce((sum, one) => sum + one.sent, 0),
          statuses,
          firstBodies,
          bytesWritten: all.reduce((sum, one) => sum + one.bytesWritten, 0),
          closeAfterAnswerMs: mean(all.map((one) => one.closeAfterAnswerMs)),
          answerMs: mean(all.map((one) => one.answerMs)),
          unfinished: all.reduce((sum, one) => sum + one.unfinished, 0),
        },
      ];
    }),
  ) as Record<FloodKind, FloodKindResult>;
  return {
    seconds: floods.reduce((sum, flood) => sum + flood.seconds, 0),
    kinds,
    cpuShare: floods.reduce((sum, flood) => sum + flood.cpuShare, 0) / Math.max(1, floods.length),
  };
}

async function runPair(
  context: BenchContext,
  floodLink: ChildLink<ParentToFlood, FloodToParent>,
  pair: Pair,
  bench: Pick<BenchOptions, 'connections' | 'duplicateRate' | 'warmupSeconds' | 'hostile'>,
  progress: (line: string) => void,
): Promise<HostilePairResult> {
  const mix = floodMixOf(bench.hostile.flood);
  const started = Date.now();
  const label = `hostile_${pairName(pair).replace('-', '_')}_${process.pid}`;
  const store = await freshBenchDatabase(pair.database, label);
  try {
    const server = await BenchServer.start({
      kind: 'zapier',
      adapter: pair.adapter,
      database: store.database,
      jwksUrl: context.sandbox.jwksUrl,
      trackIds: true,
    });
    const sampler = new RssSampler(server);
    // One id sequence per kind of round, so that the load generator pools each kind's latencies.
    const prefixes = {
      warmup: `arun_${label}_w_`,
      baseline: `arun_${label}_b_`,
      flood: `arun_${label}_f_`,
    };
    try {
      const roundMs = bench.hostile.roundSeconds * 1000;
      const load = (prefix: string, warmupMs: number, rounds: number) =>
        context.applyLoad(
          {
            url: server.url,
            connections: bench.connections,
            duplicateRate: bench.duplicateRate,
            idPrefix: prefix,
            plan: { kind: 'rounds', warmupMs, roundMs, rounds },
          },
          warmupMs + rounds * roundMs + 60_000,
        );
      const rounds: HostileRound[] = [];
      const last: Partial<Record<'warmup' | 'baseline' | 'flood', LoadResult>> = {
        warmup: await load(prefixes.warmup, Math.max(bench.warmupSeconds * 1000, WARMUP_MIN_MS), 0),
      };
      const floods: FloodResult[] = [];
      let rssBefore = 0;
      let atStart: MemoryAtPeak | undefined;
      let atPeak: MemoryAtPeak | undefined;
      let peakSampled = 0;
      let samples = 0;
      let peakKernel: number | null = null;
      let jwksFetches = 0;
      for (const kind of ORDER) {
        let result: LoadResult;
        if (kind === 'baseline') {
          result = await load(prefixes.baseline, 0, 1);
        } else {
          const before = await server.stats(false, true);
          if (floods.length === 0) {
            rssBefore = before.rss;
            atStart = before;
          }
          sampler.window();
          const jwksAtStart = context.sandbox.jwksRequests;
          const signedTokens = await context.freshTokens();
          await floodLink.request(
            { type: 'start', spec: { ...mix, url: server.url, signedTokens } },
            'started',
          );
          await sleep(RAMP_MS);
          result = await load(prefixes.flood, 0, 1);
          floods.push((await floodLink.request({ type: 'stop' }, 'result', 60_000)).result);
          jwksFetches += context.sandbox.jwksRequests - jwksAtStart;
          await sleep(SETTLE_MS);
          const window = sampler.window();
          if (window.peakBytes > peakSampled) atPeak = window.atPeak;
          peakSampled = Math.max(peakSampled, window.peakBytes);
          samples += window.samples;
          const after = await server.stats();
          if (after.rssPeak !== null) peakKernel = Math.max(peakKernel ?? 0, after.rssPeak);
        }
        last[kind] = result;
        const round = result.rounds[0];
        rounds.push({
          kind,
          rate: round.rate,
          p50Ms: round.p50Ms,
          p99Ms: round.p99Ms,
          errors: round.errors,
        });
        progress(
          `    ${kind.padEnd(8)} ${Math.round(round.rate).toLocaleString('en-US').padStart(6)}/s  ` +
            `p50 ${round.p50Ms.toFixed(1)} ms  p99 ${round.p99Ms.toFixed(1)} ms  errors ${round.errors}`,
        );
      }
      const acked = Object.values(last).reduce(
        (sum, result) => sum + (result?.totals.ackedDistinctIds ?? 0),
        0,
      );
      const settled = await server.settledStats(acked);
      const byKind = (kind: 'baseline' | 'flood') =>
        genuine(
          rounds.filter((round) => round.kind === kind).map((round) => round.rate),
          last[kind] as LoadResult,
        );
      const baseline = byKind('baseline');
      const flooded = byKind('flood');
      const flood = mergeFloods(floods);
      const peak = Math.max(peakSampled, peakKernel ?? 0);
      return {
        pair: pairName(pair),
        durability: server.durability,
        roundSeconds: bench.hostile.roundSeconds,
        rounds,
        baseline,
        flooded,
        throughputShare: baseline.rate > 0 ? flooded.rate / baseline.rate : 0,
        rssMb: {
          before: mb(rssBefore),
          peakSampled: mb(peakSampled),
          samples,
          peakKernel: peakKernel === null ? null : mb(peakKernel),
          after: mb(settled.rss),
          growth: mb(peak - rssBefore),
          atPeak: atPeak ? heapMb(atPeak) : null,
          atStart: heapMb(atStart ?? { heapTotal: 0, heapUsed: 0, external: 0 }),
        },
        flood,
        jwksFetches,
        jwksPerSecond: flood.seconds > 0 ? jwksFetches / flood.seconds : 0,
        events: settled.events,
        ackedDistinctIds: acked,
        seconds: Math.round((Date.now() - started) / 1000),
      };
    } finally {
      await sampler.stop();
      Object.values(prefixes).forEach((idPrefix) =>
        context.load.send({ type: 'end-session', idPrefix }),
      );
      await server.stop();
    }
  } finally {
    await store.drop();
  }
}

/** Runs the scenario on each of `bench.hostile.pairs`, one server at a time. */
export async function runHostile(
  context: BenchContext,
  bench: Pick<BenchOptions, 'connections' | 'duplicateRate' | 'warmupSeconds' | 'hostile'>,
  progress: (line: string) => void = () => undefined,
): Promise<HostileResult> {
  const loadStart = loadavg()[0];
  const floodLink = new ChildLink<ParentToFlood, FloodToParent>(
    benchScript('flood-generator.js'),
    [],
  );
  try {
    const { bombs } = await floodLink.request(null, 'ready', 60_000);
    const pairs: HostilePairResult[] = [];
    for (const pair of bench.hostile.pairs) {
      progress(`  ${pairName(pair)}:`);
      pairs.push(await runPair(context, floodLink, pair, bench, progress));
    }
    return {
      bombs,
      mix: floodMixOf(bench.hostile.flood),
      connections: bench.connections,
      loadAverage: { start: loadStart, end: loadavg()[0] },
      mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null,
      pairs,
    };
  } finally {
    await floodLink.stop({ type: 'exit' }, 5000);
  }
}

if (isEntryPoint(import.meta.url)) {
  const options = parseBenchArgs(process.argv.slice(2));
  if (!options) {
    process.stdout.write(HELP);
  } else {
    const context = await BenchContext.create(options.tokens);
    try {
      const result = await runHostile(context, options, (line) => console.log(line));
      console.log(formatHostile(result));
    } finally {
      await context.close();
    }
  }
}
