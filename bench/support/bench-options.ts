import type { AdapterName, DatabaseName, ServerKind } from './bench-messages.js';

export type Section = 'matrix' | 'memory' | 'poller';
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
  /** Extra profiled runs (peer and ZapierModule) on this pair, not part of the table. */
  profile: Pair | null;
  quick: boolean;
}

export const HELP = `npm run bench [-- flags]

Callback throughput (ceiling / straightforward peer / ZapierModule, on Express and Fastify,
SQLite and PostgreSQL), the memory check, and the poller benchmark, in one run.

  --only express-sqlite,...   adapter-database pairs of the matrix
                              (default: all four; PostgreSQL ones only when it answers)
  --servers ceiling,peer,zapier
  --rounds N                  measured rounds per server (default 3)
  --seconds S                 length of a round (default 5)
  --warmup S                  warm-up before the rounds (default 3)
  --connections N             concurrent keep-alive connections (default 50)
  --duplicates R              share of callbacks repeating a recent run id (default 0.05)
  --tokens N                  pre-signed tokens per server, used round-robin (default 2000)
  --quick                     rounds of 2 s, warm-up 1 s, memory 60k, poller 20 s
  --matrix / --memory / --poller
                              run only the named sections (combinable); default: all three
  --no-matrix / --no-memory / --no-poller
  --memory-callbacks N        callbacks of the memory check (default 200000; compared at 20k)
  --memory-config PAIR        pair of the memory check (default fastify-sqlite)
  --poller-seconds S          poller measurement (default 60)
  --poller-budget N           polling.maxRequestsPerMinute = sandbox limit (default 600)
  --poller-db sqlite|postgres (default sqlite)
  --profile [PAIR]            also CPU-profile the peer and ZapierModule on PAIR
                              (default express-postgres) and summarise the profiles
`;

const ADAPTERS: readonly AdapterName[] = ['express', 'fastify'];
const DATABASES: readonly DatabaseName[] = ['sqlite', 'postgres'];
const KINDS: readonly ServerKind[] = ['ceiling', 'peer', 'zapier'];

export function parsePair(text: string): Pair {
  const [adapter, database] = text.trim().toLowerCase().split('-') as [AdapterName, DatabaseName];
  const alias: Record<string, DatabaseName> = { pg: 'postgres' };
  const db = alias[database] ?? database;
  if (!ADAPTERS.includes(adapter) || !DATABASES.includes(db)) {
    throw new Error(`"${text}" is not a pair like express-sqlite or fastify-postgres.`);
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

/** Reads the flags; throws with a readable message on a bad one. `null` means `--help`. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | null {
  const only = new Set<Section>();
  const without = new Set<Section>();
  const explicit = new Set<string>();
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
    profile: null,
    quick: false,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = () => argv[++i];
    explicit.add(flag);
    switch (flag) {
      case '--help':
      case '-h':
        return null;
      case '--only':
        options.pairs = (value() ?? '').split(',').filter(Boolean).map(parsePair);
        break;
      case '--servers': {
        const kinds = (value() ?? '').split(',').filter(Boolean) as ServerKind[];
        const bad = kinds.find((kind) => !KINDS.includes(kind));
        if (bad || kinds.length === 0) throw new Error(`--servers takes ${KINDS.join(',')}.`);
        options.servers = kinds;
        break;
      }
      case '--rounds':
        options.rounds = positive(flag, value());
        break;
      case '--seconds':
        options.roundSeconds = positive(flag, value(), false);
        break;
      case '--warmup':
        options.warmupSeconds = positive(flag, value(), false);
        break;
      case '--connections':
        options.connections = positive(flag, value());
        break;
      case '--duplicates': {
        const rate = Number(value());
        if (!(rate >= 0 && rate < 1)) throw new Error('--duplicates takes a share in [0, 1).');
        options.duplicateRate = rate;
        break;
      }
      case '--tokens':
        options.tokens = positive(flag, value());
        break;
      case '--quick':
        options.quick = true;
        break;
      case '--matrix':
      case '--memory':
      case '--poller':
        only.add(flag.slice(2) as Section);
        break;
      case '--no-matrix':
      case '--no-memory':
      case '--no-poller':
        without.add(flag.slice(5) as Section);
        break;
      case '--memory-callbacks':
        options.memory.callbacks = positive(flag, value());
        break;
      case '--memory-config':
        options.memory.pair = parsePair(value() ?? '');
        break;
      case '--poller-seconds':
        options.poller.seconds = positive(flag, value(), false);
        break;
      case '--poller-budget':
        options.poller.budget = positive(flag, value());
        break;
      case '--poller-db': {
        const database = value() as DatabaseName;
        if (!DATABASES.includes(database)) throw new Error('--poller-db takes sqlite or postgres.');
        options.poller.database = database;
        break;
      }
      case '--profile': {
        const next = argv[i + 1];
        options.profile =
          next !== undefined && !next.startsWith('--')
            ? parsePair(value())
            : { adapter: 'express', database: 'postgres' };
        break;
      }
      default:
        throw new Error(`Unknown flag "${flag}".`);
    }
  }
  if (options.quick) {
    if (!explicit.has('--seconds')) options.roundSeconds = 2;
    if (!explicit.has('--warmup')) options.warmupSeconds = 1;
    if (!explicit.has('--memory-callbacks')) options.memory.callbacks = 60_000;
    if (!explicit.has('--poller-seconds')) options.poller.seconds = 20;
  }
  const all: Section[] = ['matrix', 'memory', 'poller'];
  options.sections = new Set(
    all.filter((section) => (only.size === 0 || only.has(section)) && !without.has(section)),
  );
  options.memory.checkpoint = Math.min(options.memory.checkpoint, options.memory.callbacks);
  return options;
}
