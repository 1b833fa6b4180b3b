// The cluster test (the README's "Guarantees" across instances and crashes), larger and longer:
// several app instances as separate processes on one database (PostgreSQL or MariaDB), runs started through
// ZapierClient, callbacks spread over the instances (some duplicated to two instances at once, some
// never sent), listeners failing at first, instances SIGKILLed and restarted. Prints a summary;
// exits 1 if a promise was broken (a run lost, delivered twice without a crash, or the request
// budget exceeded).
// Usage: npm run build:test && node scripts/cluster-soak.mjs [--runs 20000 --minutes 10 ...]
// The scenario itself lives in test/support/cluster-harness.ts, shared with test/cluster.e2e-spec.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HELP = `Usage: node scripts/cluster-soak.mjs [options]     (after npm run build:test)

Options:
  --runs N               runs to start (default 20000)
  --instances N          app instances, each its own process (default 3)
  --minutes M            spread the creates over M minutes (default 10; 0: as fast as the budget allows)
  --kills N              SIGKILL + restart this many times, evenly spread; instance 0 is never
                         killed and starts the runs (default 3)
  --budget N             requests a minute to Zapier, for the module and the sandbox (default 3000)
  --lost F               share of runs whose callback is never sent (default 0.08)
  --duplicates F         share whose callback also goes to a second instance at once (default 0.1)
  --failing F            share whose listener throws on the first 1-2 attempts (default 0.1)
  --errors F             share that Zapier reports as failed (default 0.1)
  --listener-delay-ms N  how long each listener takes (default 800)
  --lease-ms N           delivery.leaseMs of every instance (default 5000)
  --drain-timeout-s N    wait after the last create for every run to be delivered (default 300)
  --seed N               seed of the scenario's random choices (default 5)
  --engine E             postgres or mariadb, the server every instance uses (default postgres)
  --database NAME        database name suffix, recreated (default cluster_soak)
  --logs                 echo the instances' warnings and errors
  --out-dir DIR          where build:test wrote the compiled tests (default $TEST_OUT_DIR or out)
  -h, --help

PostgreSQL: $TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres.
MariaDB: $TEST_MARIADB_URL, default mysql://root@127.0.0.1:3306.
`;

function usageError(message) {
  process.stderr.write(`${message}\n\n${HELP}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      runs: { type: 'string', default: '20000' },
      instances: { type: 'string', default: '3' },
      minutes: { type: 'string', default: '10' },
      kills: { type: 'string', default: '3' },
      budget: { type: 'string', default: '3000' },
      lost: { type: 'string', default: '0.08' },
      duplicates: { type: 'string', default: '0.1' },
      failing: { type: 'string', default: '0.1' },
      errors: { type: 'string', default: '0.1' },
      'listener-delay-ms': { type: 'string', default: '800' },
      'lease-ms': { type: 'string', default: '5000' },
      'drain-timeout-s': { type: 'string', default: '300' },
      seed: { type: 'string', default: '5' },
      engine: { type: 'string', default: 'postgres' },
      database: { type: 'string', default: 'cluster_soak' },
      logs: { type: 'boolean', default: false },
      'out-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  usageError(error.message);
}

if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

function number(name, { integer = true, min = 0, max = Infinity } = {}) {
  const value = Number(values[name]);
  if (
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    usageError(
      `--${name} ${values[name]}: expected ${integer ? 'an integer' : 'a number'} from ${min}${max === Infinity ? '' : ` to ${max}`}.`,
    );
  }
  return value;
}

if (!['postgres', 'mariadb'].includes(values.engine)) {
  process.stderr.write(`--engine ${values.engine}: expected postgres or mariadb.\n`);
  process.exit(2);
}

const root = new URL('..', import.meta.url).pathname;
const harnessPath = join(
  root,
  values['out-dir'] ?? process.env.TEST_OUT_DIR ?? 'out',
  'test/support/cluster-harness.js',
);
if (!existsSync(harnessPath)) {
  process.stderr.write(`${harnessPath} is missing: run \`npm run build:test\` first.\n`);
  process.exit(2);
}
const { runCluster } = await import(pathToFileURL(harnessPath).href);

const minutes = number('minutes', { integer: false });
const options = {
  runs: number('runs', { min: 1 }),
  instances: number('instances', { min: 1 }),
  minutes: minutes === 0 ? null : minutes,
  kills: number('kills'),
  maxRequestsPerMinute: number('budget', { min: 1 }),
  lostShare: number('lost', { integer: false, max: 1 }),
  duplicateShare: number('duplicates', { integer: false, max: 1 }),
  failingShare: number('failing', { integer: false, max: 1 }),
  errorShare: number('errors', { integer: false, max: 1 }),
  listenerDelayMs: number('listener-delay-ms'),
  leaseMs: number('lease-ms', { min: 100 }),
  drainTimeoutMs: number('drain-timeout-s') * 1000,
  seed: number('seed'),
  engine: values.engine,
  databaseName: values.database,
  echoLogs: values.logs,
  log: (line) => console.log(line),
};

const report = await runCluster(options);
console.log(report.text);
process.exitCode = report.violations.length === 0 ? 0 : 1;
