import type {
  AdapterName,
  DatabaseName,
  LoadResult,
  ServerKind,
  ServerSpec,
  StatementCounts,
} from './bench-messages.js';
import { BenchServer, type BenchContext } from './bench-context.js';
import { freshBenchDatabase, postgresCpuMicros } from './bench-databases.js';
import { median } from './latency-recorder.js';

/** One server measured under the standard load. */
export interface ConfigResult {
  kind: ServerKind;
  adapter: AdapterName;
  /** `null` for the ceiling, which stores nothing. */
  database: DatabaseName | null;
  durability: string;
  /** Median of the rounds' callbacks/s. */
  rate: number;
  roundRates: number[];
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers and network errors, the whole run (warm-up included). */
  errors: number;
  statuses: Record<string, number>;
  firstError: string | null;
  requests: number;
  duplicatesSent: number;
  distinctIds: number;
  ackedDistinctIds: number;
  /** Events heard by a listener, and their distinct run ids (-1: not tracked). */
  events: number;
  distinctEventIds: number;
  rssStartMb: number;
  rssEndMb: number;
  /** Server CPU (user + system) per callback over the measured rounds, microseconds. */
  cpuUsPerCallback: number;
  /** Load generator CPU during the rounds, as a share of one core (median). */
  loadgenCpu: number;
  /** PostgreSQL work per request (warm-up and rounds), from its statistics for the database. */
  postgresPerRequest: {
    commits: number;
    inserted: number;
    updated: number;
    /** CPU of every postgres process on the host per request in the rounds (others' included). */
    cpuUs: number | null;
  } | null;
  /** The module's store calls and rows (profiled runs only). */
  statements: StatementCounts | null;
  ratioToCeiling: number | null;
  ratioToPeer: number | null;
}

export interface LoadShape {
  rounds: number;
  roundSeconds: number;
  warmupSeconds: number;
  connections: number;
  duplicateRate: number;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

interface Target {
  kind: ServerKind;
  adapter: AdapterName;
  database: DatabaseName | null;
}

/** One server of a group, between its start and its result. */
class Contender {
  readonly roundRates: number[] = [];
  readonly loadgenCpu: number[] = [];
  last: LoadResult | undefined;
  /** Server CPU over the measured rounds, and the requests they sent. */
  cpuMicros = 0;
  /** CPU of all postgres processes over the measured rounds (PostgreSQL targets only). */
  postgresCpuMicros = 0;
  measuredRequests = 0;

  private constructor(
    readonly target: Target,
    readonly label: string,
    readonly server: BenchServer,
    private readonly store: Awaited<ReturnType<typeof freshBenchDatabase>> | null,
  ) {}

  static async start(
    context: BenchContext,
    target: Target,
    options: { execArgv?: string[]; label?: string; diagnose?: boolean },
  ): Promise<Contender> {
    const label = `${target.kind}_${target.adapter}_${target.database ?? 'none'}_${process.pid}${options.label ?? ''}`;
    const store = target.database ? await freshBenchDatabase(target.database, label) : null;
    try {
      const spec: ServerSpec = {
        kind: target.kind,
        adapter: target.adapter,
        database: store?.database,
        jwksUrl: context.sandbox.jwksUrl,
        trackIds: true,
        diagnose: options.diagnose,
      };
      return new Contender(target, label, await BenchServer.start(spec, options.execArgv), store);
    } catch (error) {
      await store?.drop();
      throw error;
    }
  }

  async load(
    context: BenchContext,
    shape: LoadShape,
    plan: { warmupMs: number; rounds: number },
  ): Promise<LoadResult> {
    const plannedMs = plan.warmupMs + plan.rounds * shape.roundSeconds * 1000;
    this.last = await context.applyLoad(
      {
        url: this.server.url,
        connections: shape.connections,
        duplicateRate: shape.duplicateRate,
        idPrefix: `arun_${this.label}_`,
        plan: { kind: 'rounds', roundMs: shape.roundSeconds * 1000, ...plan },
      },
      plannedMs + 60_000,
    );
    return this.last;
  }

  /** Waits for the events to settle, reads the server's figures, stops it. */
  async finish(context: BenchContext): Promise<ConfigResult> {
    try {
      const load = this.last as LoadResult;
      const expected = this.target.kind === 'ceiling' ? 0 : load.totals.ackedDistinctIds;
      const end = await this.server.settledStats(expected);
      await this.server.stop();
      // Read after the stop: a backend flushes its statistics at the latest when it exits.
      const counts = await this.store?.counts?.();
      const perRequest = (value: number) => Math.round((value / load.totals.sent) * 1000) / 1000;
      return {
        ...this.target,
        durability: this.server.durability,
        rate: median(this.roundRates),
        roundRates: this.roundRates,
        p50Ms: load.pooled.p50Ms,
        p99Ms: load.pooled.p99Ms,
        errors: load.totals.errors,
        statuses: load.totals.statuses,
        firstError: load.totals.firstError,
        requests: load.totals.sent,
        duplicatesSent: load.totals.duplicatesSent,
        distinctIds: load.totals.distinctIds,
        ackedDistinctIds: load.totals.ackedDistinctIds,
        events: end.events,
        distinctEventIds: end.distinctEventIds,
        rssStartMb: mb(this.server.startStats.rss),
        rssEndMb: mb(end.rss),
        cpuUsPerCallback:
          this.measuredRequests > 0 ? Math.round(this.cpuMicros / this.measuredRequests) : 0,
        loadgenCpu: median(this.loadgenCpu),
        postgresPerRequest: counts
          ? {
              commits: perRequest(counts.commits),
              inserted: perRequest(counts.inserted),
              updated: perRequest(counts.updated),
              cpuUs:
                this.measuredRequests > 0
                  ? Math.round(this.postgresCpuMicros / this.measuredRequests)
                  : null,
            }
          : null,
        statements: end.statements ?? null,
        ratioToCeiling: null,
        ratioToPeer: null,
      };
    } finally {
      await this.dispose(context);
    }
  }

  async dispose(context: BenchContext): Promise<void> {
    context.load.send({ type: 'end-session', idPrefix: `arun_${this.label}_` });
    await this.server.stop().catch(() => undefined);
    await this.store?.drop();
  }
}

/**
 * Measures a group of servers side by side: all are started (each in its own process, on a
 * fresh database), each gets its warm-up, then the rounds are interleaved (one round of each
 * server in turn, the order reversed every other time), so that a change in the machine's
 * background load hits every server alike and the ratios stay fair. One server works at a time.
 */
export async function measureGroup(
  context: BenchContext,
  targets: readonly Target[],
  shape: LoadShape,
  options: { execArgv?: string[]; label?: string; diagnose?: boolean } = {},
  progress: (line: string) => void = () => undefined,
): Promise<ConfigResult[]> {
  const contenders: Contender[] = [];
  try {
    for (const target of targets) contenders.push(await Contender.start(context, target, options));
    for (const contender of contenders) {
      await contender.load(context, shape, { warmupMs: shape.warmupSeconds * 1000, rounds: 0 });
    }
    for (let round = 0; round < shape.rounds; round += 1) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        const before = await contender.server.stats();
        const sentBefore = contender.last?.totals.sent ?? 0;
        const postgresBefore = postgresCpuMicros();
        const load = await contender.load(context, shape, { warmupMs: 0, rounds: 1 });
        const postgresAfter = postgresCpuMicros();
        const after = await contender.server.stats();
        if (postgresBefore !== null && postgresAfter !== null) {
          contender.postgresCpuMicros += postgresAfter - postgresBefore;
        }
        contender.roundRates.push(load.rounds[0]?.rate ?? 0);
        contender.loadgenCpu.push(load.cpuShare);
        contender.cpuMicros += after.cpuMicros - before.cpuMicros;
        contender.measuredRequests += load.totals.sent - sentBefore;
      }
      progress(
        `    round ${round + 1}: ${order
          .map(
            (c) =>
              `${c.target.kind}${c.target.database ? `/${c.target.database}` : ''} ${Math.round(c.roundRates[round])}/s`,
          )
          .join(', ')}`,
      );
    }
    const results: ConfigResult[] = [];
    while (contenders.length > 0) {
      results.push(await (contenders.shift() as Contender).finish(context));
    }
    return results;
  } finally {
    for (const contender of contenders) await contender.dispose(context);
  }
}

/** Fills in the ratios: to the ceiling of the same adapter, to the peer on the same pair. */
export function addRatios(results: ConfigResult[]): void {
  for (const result of results) {
    const ceiling = results.find((r) => r.kind === 'ceiling' && r.adapter === result.adapter);
    const peer = results.find(
      (r) => r.kind === 'peer' && r.adapter === result.adapter && r.database === result.database,
    );
    result.ratioToCeiling = ceiling && ceiling.rate > 0 ? result.rate / ceiling.rate : null;
    result.ratioToPeer =
      peer && peer.rate > 0 && result.database !== null ? result.rate / peer.rate : null;
  }
}
