/** What one benchmark server process is: which receiver, on which adapter and database. */
export type ServerKind = 'ceiling' | 'peer' | 'zapier';
export type AdapterName = 'express' | 'fastify';
export type DatabaseName = 'sqlite' | 'postgres' | 'mariadb';

/** TypeORM connection of a server: a SQLite file, or a PostgreSQL or MariaDB URL. */
export type BenchDatabase =
  { type: 'sqlite'; file: string } | { type: 'postgres' | 'mariadb'; url: string };

/** The server process's only argument (JSON). */
export interface ServerSpec {
  kind: ServerKind;
  adapter: AdapterName;
  /** Absent for the ceiling, which stores nothing. */
  database?: BenchDatabase;
  jwksUrl: string;
  /** Keep the set of run ids heard (to catch an event delivered twice); off for the memory check. */
  trackIds: boolean;
  /** Count the module's store statements and their rows (profiled runs only). */
  diagnose?: boolean;
}

/** Calls of one repository method and the rows (run ids) they carried. */
export type StatementCounts = Record<string, { calls: number; rows: number }>;

export interface ServerStats {
  events: number;
  /** Distinct run ids among the events, or -1 when not tracked. */
  distinctEventIds: number;
  rss: number;
  heapUsed: number;
  /** V8's heap as reserved from the system (what of the RSS is the JavaScript heap). */
  heapTotal: number;
  /** Memory of C++ objects bound to JavaScript ones: Buffers, zlib streams, sockets. */
  external: number;
  /** CPU time of the server process so far (user + system), microseconds. */
  cpuMicros: number;
  /** With `diagnose`: the module's statements so far. */
  statements?: StatementCounts;
  /** After a full GC, when asked for and the server runs with --expose-gc. */
  afterGc?: { rss: number; heapUsed: number };
  /** Highest RSS since the start or the last `resetPeak` (Linux `VmHWM`); null without /proc. */
  rssPeak: number | null;
}

export type ServerToParent =
  | { type: 'ready'; port: number; durability: string; stats: ServerStats }
  | { type: 'stats'; stats: ServerStats }
  | { type: 'failed'; message: string };

export type ParentToServer =
  /** With `resetPeak`, `rssPeak` starts again from the current RSS after this answer. */
  { type: 'stats'; gc?: boolean; resetPeak?: boolean } | { type: 'stop' };

/** One load to apply: timed rounds (throughput) or a fixed number of callbacks (memory). */
export interface LoadSpec {
  url: string;
  /** Pre-signed `Zapier-Callback-Signature` tokens, used round-robin. */
  tokens: string[];
  connections: number;
  /** Share of requests that repeat a recent run id (Zapier retries, a callback racing a poll). */
  duplicateRate: number;
  /** Run ids are `${idPrefix}${n}`; a later load with the same prefix continues the sequence. */
  idPrefix: string;
  plan:
    | { kind: 'rounds'; warmupMs: number; roundMs: number; rounds: number }
    | { kind: 'count'; callbacks: number };
}

export interface PhaseResult {
  completed: number;
  ok: number;
  errors: number;
  durationMs: number;
  /** Completed requests per second. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
}

export interface LoadResult {
  warmup: PhaseResult | null;
  rounds: PhaseResult[];
  /** Every measured request of this load pooled (its rounds, or the whole count). */
  measured: PhaseResult;
  /** Every measured round of the session so far (same prefix), pooled. */
  pooled: PhaseResult;
  /** CPU the load generator used during this load, as a share of one core. */
  cpuShare: number;
  /** Since the first load with this prefix. */
  totals: {
    sent: number;
    ok: number;
    errors: number;
    duplicatesSent: number;
    /** Distinct run ids sent. */
    distinctIds: number;
    /** Distinct run ids that got at least one 2xx. */
    ackedDistinctIds: number;
    statuses: Record<string, number>;
    firstError: string | null;
  };
}

export type ParentToLoad =
  { type: 'run'; spec: LoadSpec } | { type: 'end-session'; idPrefix: string } | { type: 'stop' };
export type LoadToParent =
  { type: 'result'; result: LoadResult } | { type: 'failed'; message: string };
