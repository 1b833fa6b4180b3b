import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatMemory, runMemoryCheck, type MemoryResult } from './memory.js';
import { runHostile, type HostileResult } from './hostile.js';
import { formatPoller, type PollerResult } from './poller-bench.js';
import { formatProfile, summariseProfile, type ProfileSummary } from './profile-summary.js';
import { BenchContext } from './support/bench-context.js';
import { benchScript, ChildLink } from './support/bench-children.js';
import { mariadbVersion, postgresVersion } from './support/bench-databases.js';
import type { AdapterName, DatabaseName, ServerKind } from './support/bench-messages.js';
import {
  HELP,
  pairName,
  parseBenchArgs,
  type BenchOptions,
  type Pair,
} from './support/bench-options.js';
import {
  barChart,
  loadgenLine,
  matrixTable,
  postgresLine,
  statementsLine,
  targetLines,
} from './support/bench-report.js';
import { formatHostile, hostileVerdicts } from './support/hostile-report.js';
import { addRatios, measureGroup, type ConfigResult } from './support/throughput.js';

/**
 * `npm run bench`: the callback throughput matrix (ceiling / peer / ZapierModule × Express,
 * Fastify × SQLite, PostgreSQL), the memory check and the poller benchmark, in one run; writes
 * `bench/results/<timestamp>.json` and `bench/results/latest.md`. See `--help`.
 */

const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  kernel: string;
  postgres: string | null;
  mariadb: string | null;
  tmpFilesystem: string;
  /** The commit measured, and how many files under src/ differ from it (read-only git calls). */
  commit: string;
}

function commitOf(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const changed = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
    return changed > 0 ? `${head} + ${changed} changed file(s) under src/` : head;
  } catch {
    return 'unknown';
  }
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The filesystem type under the temporary folder (SQLite files go there). */
function filesystemOf(path: string): string {
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .filter((fields) => fields.length > 2 && path.startsWith(fields[1]))
      .sort((a, b) => b[1].length - a[1].length);
    return mounts[0]?.[2] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function machine(): Promise<Machine> {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    kernel: release(),
    postgres: await postgresVersion(),
    mariadb: await mariadbVersion(),
    tmpFilesystem: filesystemOf(tmpdir()),
    commit: commitOf(),
  };
}

function describeResult(result: ConfigResult): string {
  const where = `${result.adapter} ${result.database ?? ''}`.trim();
  const events =
    result.kind === 'ceiling'
      ? ''
      : `, events ${result.events}/${result.ackedDistinctIds}${result.events === result.ackedDistinctIds ? '' : ' MISMATCH'}`;
  const firstError = result.firstError ? ` (first: ${result.firstError.slice(0, 160)})` : '';
  return `  ${where.padEnd(16)} ${result.kind.padEnd(8)} ${Math.round(result.rate).toLocaleString('en-US').padStart(7)}/s  p50 ${result.p50Ms.toFixed(1)} ms  p99 ${result.p99Ms.toFixed(1)} ms  errors ${result.errors}${firstError}${events}, server CPU ${result.cpuUsPerCallback} µs/cb, load generator ${Math.round(result.loadgenCpu * 100)}% of a core  [${result.durability}]`;
}

/** Leaves out what needs a database server that does not answer, and says so. */
function skipDatabase(options: BenchOptions, database: DatabaseName, name: string): void {
  const dropped = options.pairs.filter((pair) => pair.database === database);
  if (dropped.length > 0) {
    log(`NOTICE: ${name} does not answer: skipping ${dropped.map(pairName).join(', ')}.`);
  }
  options.pairs = options.pairs.filter((pair) => pair.database !== database);
  if (options.memory.pair.database === database) options.sections.delete('memory');
  if (options.poller.database === database) options.poller.database = 'sqlite';
  if (options.profile?.database === database) options.profile = null;
  options.hostile.pairs = options.hostile.pairs.filter((pair) => pair.database !== database);
  if (options.hostile.pairs.length === 0) options.sections.delete('hostile');
}

async function runMatrix(context: BenchContext, options: BenchOptions): Promise<ConfigResult[]> {
  const results: ConfigResult[] = [];
  const adapters = [...new Set(options.pairs.map((pair) => pair.adapter))];
  for (const adapter of adapters) {
    const targets: Array<{
      kind: ServerKind;
      adapter: AdapterName;
      database: DatabaseName | null;
    }> = [];
    if (options.servers.includes('ceiling'))
      targets.push({ kind: 'ceiling', adapter, database: null });
    for (const pair of options.pairs.filter((p) => p.adapter === adapter)) {
      for (const kind of ['peer', 'zapier'] as const) {
        if (options.servers.includes(kind))
          targets.push({ kind, adapter, database: pair.database });
      }
    }
    const started = Date.now();
    log(`  ${adapter}: ${targets.length} servers, rounds interleaved`);
    const group = await measureGroup(context, targets, options, {}, log);
    const seconds = Math.round((Date.now() - started) / 1000);
    group.forEach((result) => log(describeResult(result)));
    log(`  (${seconds} s)`);
    results.push(...group);
  }
  addRatios(results);
  return results;
}

async function runProfiles(
  context: BenchContext,
  options: BenchOptions,
  pair: Pair,
): Promise<
  Array<{ kind: ServerKind; file: string; result: ConfigResult; summary: ProfileSummary }>
> {
  const dir = join(RESULTS_DIR, 'profiles');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const profiles = [];
  for (const kind of ['peer', 'zapier'] as const) {
    const name = `${kind}-${pairName(pair)}-${stamp}.cpuprofile`;
    const [result] = await measureGroup(
      context,
      [{ kind, adapter: pair.adapter, database: pair.database }],
      options,
      {
        execArgv: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', name],
        label: '_prof',
        diagnose: true,
      },
    );
    const file = join(dir, name);
    log(`${describeResult(result)} [profiled]`);
    profiles.push({ kind, file, result, summary: summariseProfile(file, 20) });
  }
  return profiles;
}

async function runPoller(options: BenchOptions): Promise<PollerResult> {
  const link = new ChildLink<{ type: 'none' }, { type: 'result'; result: PollerResult }>(
    benchScript('poller-bench.js'),
    [
      '--poller-seconds',
      String(options.poller.seconds),
      '--poller-budget',
      String(options.poller.budget),
      '--poller-db',
      options.poller.database,
    ],
  );
  try {
    const answer = await link.request(null, 'result', (options.poller.seconds + 240) * 1000);
    return answer.result;
  } finally {
    await link.stop({ type: 'none' }, 15_000);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions | null;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\nRun with --help to see the flags.\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(HELP);
    return 0;
  }
  const started = Date.now();
  const loadAtStart = loadavg()[0].toFixed(1);
  const host = await machine();
  for (const [database, name, version] of [
    ['postgres', 'PostgreSQL', host.postgres],
    ['mariadb', 'MariaDB', host.mariadb],
  ] as const) {
    if (version === null) skipDatabase(options, database, name);
  }
  if (host.tmpFilesystem === 'tmpfs') {
    log(`WARNING: ${tmpdir()} is tmpfs: SQLite's fsync costs nothing there; set TMPDIR to a disk.`);
  }
  log(
    `Machine: ${host.cpu}, ${host.cores} cores, ${host.memoryGb} GB, Node ${host.node}, Linux ${host.kernel}, ` +
      `PostgreSQL ${host.postgres ?? 'not reachable'}, MariaDB ${host.mariadb ?? 'not reachable'}, ${tmpdir()} on ${host.tmpFilesystem}; code: ${host.commit}`,
  );
  log(
    `Load: ${options.connections} connections, ${options.duplicateRate * 100}% duplicates, warm-up ${options.warmupSeconds} s, ` +
      `${options.rounds} rounds of ${options.roundSeconds} s, ${options.tokens} pre-signed tokens per server`,
  );

  let matrix: ConfigResult[] = [];
  let memory: MemoryResult | null = null;
  let poller: PollerResult | null = null;
  let hostile: HostileResult | null = null;
  let profiles: Awaited<ReturnType<typeof runProfiles>> = [];
  const needsContext =
    options.sections.has('matrix') ||
    options.sections.has('memory') ||
    options.sections.has('hostile') ||
    options.profile !== null;
  if (needsContext) {
    const context = await BenchContext.create(options.tokens);
    try {
      if (options.sections.has('matrix')) {
        log('\nThroughput (each server in its own process, fresh database):');
        matrix = await runMatrix(context, options);
      }
      if (options.sections.has('memory')) {
        log(
          `\nMemory check: ZapierModule on ${pairName(options.memory.pair)}, ${options.memory.callbacks.toLocaleString('en-US')} callbacks:`,
        );
        memory = await runMemoryCheck(context, options, log);
      }
      if (options.sections.has('hostile')) {
        log(
          `\nHostile traffic: ZapierModule on ${options.hostile.pairs.map(pairName).join(', ')}, rounds of ${options.hostile.roundSeconds} s without and with a flood:`,
        );
        hostile = await runHostile(context, options, log);
      }
      if (options.profile) {
        log(`\nCPU profiles on ${pairName(options.profile)} (extra runs, not in the table):`);
        profiles = await runProfiles(context, options, options.profile);
      }
    } finally {
      await context.close();
    }
  }
  if (options.sections.has('poller')) {
    log(
      `\nPoller: budget ${options.poller.budget}/min, ${options.poller.seconds} s on ${options.poller.database}...`,
    );
    poller = await runPoller(options);
  }

  const seconds = Math.round((Date.now() - started) / 1000);
  const load = `load average ${loadAtStart} at the start, ${loadavg()[0].toFixed(1)} at the end (other work on the machine included)`;
  const report = [
    `## nestjs-zapier benchmark, ${new Date().toISOString()}`,
    '',
    `Machine: ${host.cpu}, ${host.cores} cores, ${host.memoryGb} GB RAM, Node ${host.node}, Linux ${host.kernel}, PostgreSQL ${host.postgres ?? 'not reachable'}, MariaDB ${host.mariadb ?? 'not reachable'}; code ${host.commit}. ` +
      `Load: ${options.connections} keep-alive connections (node:http), ${options.duplicateRate * 100}% duplicate run ids, warm-up ${options.warmupSeconds} s then ${options.rounds} × ${options.roundSeconds} s. ` +
      (matrix.length > 0
        ? `Durability: ${[...new Set(matrix.map((r) => r.durability))].filter((d) => !d.startsWith('n/a')).join('; ')}. `
        : '') +
      `Took ${seconds} s; ${load}.`,
    '',
    ...(matrix.length > 0
      ? [
          matrixTable(matrix),
          '',
          '```',
          barChart(matrix),
          '```',
          '',
          ...targetLines(matrix),
          '',
          loadgenLine(matrix),
          '',
          ...[postgresLine(matrix)]
            .filter((line): line is string => line !== null)
            .flatMap((line) => [line, '']),
        ]
      : []),
    ...(memory ? [formatMemory(memory), ''] : []),
    ...(poller ? [formatPoller(poller), ''] : []),
    ...(hostile ? [formatHostile(hostile), ''] : []),
    ...profiles.flatMap((profile) => [
      ...[statementsLine(profile.result), postgresLine([profile.result])].filter(
        (line): line is string => line !== null,
      ),
      '```',
      formatProfile(
        { ...profile.summary, selfByFunction: profile.summary.selfByFunction.slice(0, 15) },
        `CPU profile, ${profile.kind} on ${pairName(options.profile as Pair)} (${Math.round(profile.result.rate)}/s under the profiler)`,
      ),
      '```',
      '',
    ]),
  ].join('\n');
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const jsonFile = join(RESULTS_DIR, `${stamp}.json`);
  writeFileSync(
    jsonFile,
    `${JSON.stringify(
      {
        machine: host,
        options: { ...options, sections: [...options.sections] },
        seconds,
        load,
        matrix,
        memory,
        poller,
        hostile,
        profiles: profiles.map(({ kind, file, summary }) => ({ kind, file, summary })),
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(RESULTS_DIR, 'latest.md'), `${report}\n`);
  log(`\n${report}`);
  log(`Results: ${jsonFile} and ${join(RESULTS_DIR, 'latest.md')}`);
  const eventsOk = matrix.every(
    (r) =>
      r.kind === 'ceiling' || (r.events === r.ackedDistinctIds && r.distinctEventIds === r.events),
  );
  // Under the flood, too, every genuine callback is stored and announced once.
  const hostileOk = (hostile?.pairs ?? []).every(
    (pair) => pair.events === pair.ackedDistinctIds && hostileVerdicts(pair).refused,
  );
  return eventsOk && hostileOk ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
