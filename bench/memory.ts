import 'reflect-metadata';
import { BenchContext, BenchServer } from './support/bench-context.js';
import { freshBenchDatabase } from './support/bench-databases.js';
import { HELP, pairName, parseBenchArgs, type BenchOptions } from './support/bench-options.js';
import { isEntryPoint } from './support/is-entry-point.js';

/** RSS after each checkpoint of the memory check. */
export interface MemoryCheckpoint {
  callbacks: number;
  rssMb: number;
  heapUsedMb: number;
  /** After a full GC (diagnostic: what is really retained). */
  heapAfterGcMb: number | null;
  rssAfterGcMb: number | null;
  events: number;
  /** Callbacks/s over this stretch. */
  rate: number;
  errors: number;
}

export interface MemoryResult {
  pair: string;
  durability: string;
  callbacks: number;
  baselineAt: number;
  rssStartMb: number;
  checkpoints: MemoryCheckpoint[];
  /** RSS at the end ÷ RSS after the first checkpoint (target ≤ 1.15). */
  growth: number;
  ackedDistinctIds: number;
  events: number;
  errors: number;
  seconds: number;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/**
 * Drives `ZapierModule` (its own process, fresh database) with `callbacks` signed callbacks in
 * stretches of `checkpoint`, reading its RSS after each stretch once the events have settled,
 * and compares the RSS at the end with the RSS after the first stretch.
 */
export async function runMemoryCheck(
  context: BenchContext,
  bench: Pick<BenchOptions, 'memory' | 'connections' | 'duplicateRate'>,
  progress: (line: string) => void = () => undefined,
): Promise<MemoryResult> {
  const options = {
    ...bench.memory,
    connections: bench.connections,
    duplicateRate: bench.duplicateRate,
  };
  const label = `memory_${options.pair.adapter}_${options.pair.database}_${process.pid}`;
  const store = await freshBenchDatabase(options.pair.database, label);
  const started = Date.now();
  try {
    const server = await BenchServer.start(
      {
        kind: 'zapier',
        adapter: options.pair.adapter,
        database: store.database,
        jwksUrl: context.sandbox.jwksUrl,
        // A set of 200k ids in the listener would be the growth measured.
        trackIds: false,
      },
      ['--expose-gc'],
    );
    try {
      const checkpoints: MemoryCheckpoint[] = [];
      let sent = 0;
      let acked = 0;
      let errors = 0;
      while (sent < options.callbacks) {
        const count = Math.min(options.checkpoint, options.callbacks - sent);
        const load = await context.applyLoad(
          {
            url: server.url,
            connections: options.connections,
            duplicateRate: options.duplicateRate,
            idPrefix: `arun_${label}_`,
            plan: { kind: 'count', callbacks: count },
          },
          600_000,
        );
        sent += count;
        acked = load.totals.ackedDistinctIds;
        errors = load.totals.errors;
        await server.settledStats(acked);
        // RSS as it is first (the target), then after a full GC (what is really retained).
        const stats = await server.stats(true);
        const checkpoint: MemoryCheckpoint = {
          callbacks: sent,
          rssMb: mb(stats.rss),
          heapUsedMb: mb(stats.heapUsed),
          heapAfterGcMb: stats.afterGc ? mb(stats.afterGc.heapUsed) : null,
          rssAfterGcMb: stats.afterGc ? mb(stats.afterGc.rss) : null,
          events: stats.events,
          rate: Math.round(load.measured.rate),
          errors: load.measured.errors,
        };
        checkpoints.push(checkpoint);
        progress(
          `  ${sent.toLocaleString('en-US').padStart(9)} callbacks: RSS ${checkpoint.rssMb} MB, heap ${checkpoint.heapUsedMb} MB ` +
            `(after a full GC: RSS ${checkpoint.rssAfterGcMb} MB, heap ${checkpoint.heapAfterGcMb} MB), ${checkpoint.rate}/s`,
        );
      }
      const final = await server.settledStats(acked);
      const baseline = checkpoints[0];
      return {
        pair: pairName(options.pair),
        durability: server.durability,
        callbacks: sent,
        baselineAt: baseline.callbacks,
        rssStartMb: mb(server.startStats.rss),
        checkpoints,
        growth: checkpoints[checkpoints.length - 1].rssMb / baseline.rssMb,
        ackedDistinctIds: acked,
        events: final.events,
        errors,
        seconds: Math.round((Date.now() - started) / 1000),
      };
    } finally {
      await server.stop();
    }
  } finally {
    await store.drop();
  }
}

export function formatMemory(result: MemoryResult): string {
  const last = result.checkpoints[result.checkpoints.length - 1];
  const verdict = result.growth <= 1.15 ? 'within' : 'OVER';
  return [
    `Memory (ZapierModule, ${result.pair}, ${result.durability}): RSS ${result.rssStartMb} MB at start, ` +
      `${result.checkpoints[0].rssMb} MB after ${result.baselineAt.toLocaleString('en-US')}, ` +
      `${last.rssMb} MB after ${result.callbacks.toLocaleString('en-US')} callbacks: ` +
      `×${result.growth.toFixed(3)} (${verdict} the 15% target); ` +
      `events ${result.events} / distinct ids ${result.ackedDistinctIds}; errors ${result.errors}; ${result.seconds} s.`,
    `  RSS by checkpoint (MB): ${result.checkpoints.map((c) => c.rssMb).join(' → ')}`,
    `  heap after a full GC (MB): ${result.checkpoints.map((c) => c.heapAfterGcMb ?? '?').join(' → ')}`,
  ].join('\n');
}

if (isEntryPoint(import.meta.url)) {
  const options = parseBenchArgs(process.argv.slice(2));
  if (!options) {
    process.stdout.write(HELP);
  } else {
    const context = await BenchContext.create(options.tokens);
    try {
      const result = await runMemoryCheck(context, options, (line) => console.log(line));
      console.log(formatMemory(result));
    } finally {
      await context.close();
    }
  }
}
