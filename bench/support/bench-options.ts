import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { AdapterName, DatabaseName, ServerKind } from './bench-messages.js';
import { FLOOD_KINDS, type FloodKind } from './flood-messages.js';

export type Section = 'matrix' | 'memory' | 'poller' | 'hostile';
export interface Pair {
  adapter: AdapterName;
  database: DatabaseName;
}

export interface BenchOptions {
  sections: Set<Section>;
  /** Adapter × database pairs of the throughput matrix. */
  pairs: Pair[];
  servers: ServerKind[];
  rounds: number;
  roundSeconds: number;
  warmupSeconds: number;
  connections: number;
  duplicateRate: number;
  /** Size of the pre-signed token pool, re-signed for each server. */
  tokens: number;
  memory: { callbacks: number; checkpoint: number; pair: Pair };
  poller: { seconds: number; budget: number; database: DatabaseName };
  /** The hostile-traffic scenario: its ZapierModule servers, one after the other, and round length. */
  hostile: { pairs: Pair[]; roundSeconds: number; flood: FloodKind[] };
  /** Extra profiled runs (peer and ZapierModule) on this pair, not part of the table. */
  profile: Pair | null;
  quick: boolean;
}

export const HELP = `npm run bench [-- flags]

Callback throughput (ceiling / straightforward peer / ZapierModule, on Express and Fastify,
SQLite, PostgreSQL and MariaDB), the memory check, the poller benchmark and the hostile-traffic
scenario, in one run.

  --only express-sqlite,...   adapter-database pairs of the matrix
                              (default: all six; PostgreSQL and MariaDB ones only when
                              they answer)
  --servers ceiling,peer,zapier
  --rounds N                  measured rounds per server (default 3)
  --seconds S                 length of a round (default 5)
  --warmup S                  warm-up before the rounds (default 3)
  --connections N             concurrent keep-alive connections (default 50)
  --duplicates R              share of callbacks repeating a recent run id (default 0.05)
  --tokens N                  pre-signed tokens per server, used round-robin (default 2000)
  --quick                     rounds of 2 s, warm-up 1 s, memory 60k, poller 20 s,
                              hostile rounds of 3 s
  --matrix / --memory / --poller / --hostile
                              run only the named sections (combinable); default: all four
  --no-matrix / --no-memory / --no-poller / --no-hostile
  --memory-callbacks N        callbacks of the memory check (default 200000; compared at 20k)
  --memory-config PAIR        pair of the memory check (default fastify-sqlite)
  --poller-seconds S          poller measurement (default 60)
  --poller-budget N           polling.maxRequestsPerMinute = sandbox limit (default 600)
  --poller-db sqlite|postgres|mariadb (default sqlite)
  --hostile-config PAIR,...   ZapierModule servers of the hostile scenario
                              (default fastify-sqlite,express-sqlite)
  --hostile-seconds S         length of its rounds: 2 unflooded, 2 flooded (default 6)
  --hostile-flood KIND,...    only these kinds in the flood (default all: ${FLOOD_KINDS.join(',')})
  --profile [PAIR]            also CPU-profile the peer and ZapierModule on PAIR
                              (default express-postgres) and summarise the profiles
`;

const ADAPTERS: readonly AdapterName[] = ['express', 'fastify'];
const DATABASES: readonly DatabaseName[] = ['sqlite', 'postgres', 'mariadb'];
const KINDS: readonly ServerKind[] = ['ceiling', 'peer', 'zapier'];

export function parsePair(text: string): Pair {
  const [adapter, database] = text.trim().toLowerCase().split('-') as [AdapterName, DatabaseName];
  const alias: Record<string, DatabaseName> = { pg: 'postgres', mysql: 'mariadb' };
  const db = alias[database] ?? database;
  if (!ADAPTERS.includes(adapter) || !DATABASES.includes(db)) {
    throw new Error(
      `"${text}" is not a pair like express-sqlite, fastify-postgres or express-mariadb.`,
    );
  }
  return { adapter, database: db };
}

export const pairName = (pair: Pair) => `${pair.adapter}-${pair.database}`;

function positive(flag: string, value: string | undefined, integer = true): number {
  const number = Number(value);
  if (value === undefined || !Number.isFinite(number) || number <= 0) {
    throw new Error(`${flag} needs a positive number, got "${value ?? ''}".`);
  }
  if (integer && !Number.isInteger(number)) throw new Error(`${flag} needs an integer.`);
  return number;
}

/** The flags, for `node:util` `parseArgs` (`--no-<section>` through `allowNegative`). */
const FLAGS = {
  help: { type: 'boolean', short: 'h' },
  only: { type: 'string' },
  servers: { type: 'string' },
  rounds: { type: 'string' },
  seconds: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  duplicates: { type: 'string' },
  tokens: { type: 'string' },
  quick: { type: 'boolean' },
  matrix: { type: 'boolean' },
  memory: { type: 'boolean' },
  poller: { type: 'boolean' },
  hostile: { type: 'boolean' },
  'memory-callbacks': { type: 'string' },
  'memory-config': { type: 'string' },
  'poller-seconds': { type: 'string' },
  'poller-budget': { type: 'string' },
  'poller-db': { type: 'string' },
  'hostile-config': { type: 'string' },
  'hostile-seconds': { type: 'string' },
  'hostile-flood': { type: 'string' },
  profile: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const SECTIONS: readonly Section[] = ['matrix', 'memory', 'poller', 'hostile'];
const DEFAULT_PROFILE = 'express-postgres';

/**
 * `--profile` takes an optional pair, which `parseArgs` cannot express: a bare `--profile`
 * (last, or before another flag) is given the default pair.
 */
function withProfileDefault(argv: readonly string[]): string[] {
  return argv.map((arg, i) =>
    arg === '--profile' && (argv[i + 1] === undefined || argv[i + 1].startsWith('-'))
      ? `--profile=${DEFAULT_PROFILE}`
      : arg,
  );
}

const pairs = (flag: string, text: string): Pair[] => {
  const list = text.split(',').filter(Boolean).map(parsePair);
  if (list.length === 0) throw new Error(`--${flag} needs at least one pair.`);
  return list;
};

/** Reads the flags; throws with a readable message on a bad one. `null` means `--help`. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: withProfileDefault(argv),
    options: FLAGS,
    strict: true,
    allowPositionals: false,
    allowNegative: true,
  });
  if (values.help) return null;
  const options: BenchOptions = {
    sections: new Set(),
    pairs: ADAPTERS.flatMap((adapter) => DATABASES.map((database) => ({ adapter, database }))),
    servers: [...KINDS],
    rounds: 3,
    roundSeconds: 5,
    warmupSeconds: 3,
    connections: 50,
    duplicateRate: 0.05,
    tokens: 2000,
    memory: {
      callbacks: 200_000,
      checkpoint: 20_000,
      pair: { adapter: 'fastify', database: 'sqlite' },
    },
    poller: { seconds: 60, budget: 600, database: 'sqlite' },
    hostile: {
      pairs: [
        { adapter: 'fastify', database: 'sqlite' },
        { adapter: 'express', database: 'sqlite' },
      ],
      roundSeconds: 6,
      flood: [...FLOOD_KINDS],
    },
    profile: null,
    quick: values.quick ?? false,
  };
  if (values.only !== undefined) options.pairs = pairs('only', values.only);
  if (values.servers !== undefined) {
    const kinds = values.servers.split(',').filter(Boolean) as ServerKind[];
    const bad = kinds.find((kind) => !KINDS.includes(kind));
    if (bad || kinds.length === 0) throw new Error(`--servers takes ${KINDS.join(',')}.`);
    options.servers = kinds;
  }
  if (values.rounds !== undefined) options.rounds = positive('--rounds', values.rounds);
  if (values.seconds !== undefined) {
    options.roundSeconds = positive('--seconds', values.seconds, false);
  }
  if (values.warmup !== undefined) {
    options.warmupSeconds = positive('--warmup', values.warmup, false);
  }
  if (values.connections !== undefined) {
    options.connections = positive('--connections', values.connections);
  }
  if (values.duplicates !== undefined) {
    const rate = Number(values.duplicates);
    if (!(rate >= 0 && rate < 1)) throw new Error('--duplicates takes a share in [0, 1).');
    options.duplicateRate = rate;
  }
  if (values.tokens !== undefined) options.tokens = positive('--tokens', values.tokens);
  if (values['memory-callbacks'] !== undefined) {
    options.memory.callbacks = positive('--memory-callbacks', values['memory-callbacks']);
  }
  if (values['memory-config'] !== undefined) {
    options.memory.pair = parsePair(values['memory-config']);
  }
  if (values['poller-seconds'] !== undefined) {
    options.poller.seconds = positive('--poller-seconds', values['poller-seconds'], false);
  }
  if (values['poller-budget'] !== undefined) {
    options.poller.budget = positive('--poller-budget', values['poller-budget']);
  }
  if (values['poller-db'] !== undefined) {
    const database = values['poller-db'] as DatabaseName;
    if (!DATABASES.includes(database)) {
      throw new Error('--poller-db takes sqlite, postgres or mariadb.');
    }
    options.poller.database = database;
  }
  if (values['hostile-config'] !== undefined) {
    options.hostile.pairs = pairs('hostile-config', values['hostile-config']);
  }
  if (values['hostile-seconds'] !== undefined) {
    options.hostile.roundSeconds = positive('--hostile-seconds', values['hostile-seconds'], false);
  }
  if (values['hostile-flood'] !== undefined) {
    const kinds = values['hostile-flood'].split(',').filter(Boolean) as FloodKind[];
    const bad = kinds.find((kind) => !FLOOD_KINDS.includes(kind));
    if (bad || kinds.length === 0)
      throw new Error(`--hostile-flood takes ${FLOOD_KINDS.join(',')}.`);
    options.hostile.flood = kinds;
  }
  if (values.profile !== undefined) options.profile = parsePair(values.profile);
  if (options.quick) {
    if (values.seconds === undefined) options.roundSeconds = 2;
    if (values.warmup === undefined) options.warmupSeconds = 1;
    if (values['memory-callbacks'] === undefined) options.memory.callbacks = 60_000;
    if (values['poller-seconds'] === undefined) options.poller.seconds = 20;
    if (values['hostile-seconds'] === undefined) options.hostile.roundSeconds = 3;
  }
  // `--matrix` etc. name the only sections to run; `--no-matrix` etc. leave one out.
  const only = SECTIONS.filter((section) => values[section] === true);
  options.sections = new Set(
    SECTIONS.filter(
      (section) => (only.length === 0 || only.includes(section)) && values[section] !== false,
    ),
  );
  options.memory.checkpoint = Math.min(options.memory.checkpoint, options.memory.callbacks);
  return options;
}
