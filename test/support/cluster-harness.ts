import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { ZapierActionRun } from '../../src/storage/zapier-action-run.entity.js';
import type { ZapierModuleOptions } from '../../src/interfaces/zapier-module-options.interface.js';
import type { CreateActionRunInput } from '../../src/client/zapier.client.js';
import type { ZapierRunError } from '../../src/interfaces/action-run.interface.js';
import type { RunOutcome } from '../../src/testing/index.js';
import { ZapierSandbox } from '../../src/testing/zapier-sandbox.js';
import { migratedDataSource } from './data-sources.js';
import {
  completedPerRun,
  createDeliveryLog,
  readDeliveryLog,
  type DeliveryLogRow,
} from './delivery-log.js';
import { SeededRandom } from './seeded-random.js';
import { maxInWindow } from './zapier-harness.js';
import { ZapierNodeProcess } from './zapier-node-process.js';

/**
 * The cluster scenario that checks the README's "Guarantees" across instances and crashes, shared
 * by `test/cluster.e2e-spec.ts` (small, for CI) and `scripts/cluster-soak.mjs` (larger and longer,
 * by hand): several app instances as separate processes on one database (PostgreSQL or MariaDB) and one sandbox;
 * runs started through `ZapierClient` (`POST /test/runs` of the fixture app); callbacks spread over
 * the instances, some sent to two instances at the same moment, some never sent (the pollers
 * recover them); listeners that throw at first for some runs; instances SIGKILLed and restarted in
 * the middle. Then it checks that nothing was lost, that runs were delivered exactly once unless
 * their delivering instance crashed, and that the cluster kept within Zapier's request budget.
 */
export interface ClusterOptions {
  /** Runs to start. */
  runs: number;
  /** App instances (processes). */
  instances: number;
  /** Spread the creates evenly over this many minutes; `null`: as fast as the budget allows. */
  minutes: number | null;
  /** `polling.maxRequestsPerMinute` of every instance, and the sandbox's own limit. */
  maxRequestsPerMinute: number;
  /** Instances SIGKILLed (and restarted with a new instance id) while runs are being created. */
  kills: number;
  /** Shares of runs (0 to 1): callback never sent; callback also sent to a second instance at the same moment; listener throws on the first 1–2 attempts; Zapier reports an error. */
  lostShare: number;
  duplicateShare: number;
  failingShare: number;
  errorShare: number;
  /** How long each listener takes, so that a crash finds deliveries in flight. */
  listenerDelayMs: number;
  /** `delivery.leaseMs`: how soon a dead instance's deliveries are taken over. */
  leaseMs: number;
  /** How long to wait, after the last create, for every run to be delivered. */
  drainTimeoutMs: number;
  /** Seed of the scenario's pseudo-random choices. */
  seed: number;
  /** The server the instances share. */
  engine: 'postgres' | 'mariadb';
  /** Database name suffix (the database is recreated). */
  databaseName: string;
  /** Echo the instances' logs (warnings and errors) to stderr. */
  echoLogs: boolean;
  /** Progress lines. */
  log: (line: string) => void;
}

export const CLUSTER_DEFAULTS: ClusterOptions = {
  runs: 2000,
  instances: 3,
  minutes: null,
  maxRequestsPerMinute: 1800,
  kills: 1,
  lostShare: 0.08,
  duplicateShare: 0.1,
  failingShare: 0.1,
  errorShare: 0.1,
  listenerDelayMs: 800,
  leaseMs: 5000,
  drainTimeoutMs: 150_000,
  seed: 5,
  engine: 'postgres',
  databaseName: 'cluster',
  echoLogs: false,
  log: () => undefined,
};

/** What one run is scripted to do. */
interface PlannedRun {
  seq: number;
  /** Instance index the callback goes to. */
  target: number;
  lost: boolean;
  /** Second instance that gets the same callback at the same moment, if any. */
  duplicateTo: number | null;
  failFirst: number;
  outcome: RunOutcome;
}

/** Numbers of the summary. */
export interface ClusterSummary {
  engine: ClusterOptions['engine'];
  runs: number;
  instances: number;
  kills: number;
  created: number;
  createErrors: number;
  sandboxRuns: number;
  terminal: number;
  delivered: number;
  parked: number;
  lost: number;
  completedDeliveries: number;
  listenerFailures: number;
  /** Runs whose delivery a killed instance held when it died. */
  heldByKilled: number;
  /** Of those, runs another instance delivered after the crash. */
  takenOver: number;
  /** Runs delivered (completed) more than once, all of them after a crash. */
  redeliveredAfterCrash: number;
  duplicateCallbacks: number;
  lostCallbacks: number;
  /** Callback attempts that got no 2xx: refused (instance down) vs answered 5xx. */
  callbacksRefused: number;
  callbacks5xx: number;
  creates: number;
  polls: number;
  requests: number;
  maxRequestsIn60s: number;
  budget: number;
  rateLimited: number;
  instanceErrorLines: number;
  /** From the first create until every run was delivered. */
  durationMs: number;
}

export interface ClusterReport {
  summary: ClusterSummary;
  /** Each one is a broken promise; empty when all held. */
  violations: string[];
  /** The summary as printable lines. */
  text: string;
}

const PUBLIC_CALLBACK = 'https://hooks.example.com/zapier/callbacks';
const RUN_ERROR: ZapierRunError = {
  code: 'user',
  title: 'ActionFailed',
  detail: 'Scripted failure.',
  meta: null,
};

/** Runs the scenario; never throws for a broken promise (see `violations`), only for setup failures. */
export async function runCluster(overrides: Partial<ClusterOptions> = {}): Promise<ClusterReport> {
  const o: ClusterOptions = { ...CLUSTER_DEFAULTS, ...overrides };
  if (o.instances < 1 || (o.kills > 0 && o.instances < 2)) {
    throw new Error('Killing instances needs at least 2 (instance 0 is never killed).');
  }
  const plan = planRuns(o);
  const victims = Array.from(
    { length: o.kills },
    (_, k) => o.instances - 1 - (k % (o.instances - 1)),
  );
  const creators = [...Array(o.instances).keys()].filter((i) => !victims.includes(i));

  const { dataSource, close: closeDatabase } = await migratedDataSource(o.engine, o.databaseName);
  await createDeliveryLog(dataSource);
  const databaseUrl = String((dataSource.options as { url?: string }).url);

  const nodes: ZapierNodeProcess[] = [];
  const allNodes: ZapierNodeProcess[] = [];
  const seqToRunId = new Map<number, string>();
  let indexed = 0;
  const counters = { duplicateCallbacks: 0, lostCallbacks: 0 };
  const callbackUrl = (index: number, seq: number) =>
    `${nodes[index].url}/zapier/callbacks?seq=${seq}`;

  const sandbox: ZapierSandbox = await ZapierSandbox.start({
    rateLimit: { perMinute: o.maxRequestsPerMinute, cooldownMs: 60_000 },
    outcome: (request) => {
      const run = plan[Number(request.inputs.seq)];
      if (run.lost) counters.lostCallbacks += 1;
      return run.outcome;
    },
    callbackTarget: (url) => {
      const run = plan[Number(new URL(url).searchParams.get('seq'))];
      if (run.duplicateTo !== null) {
        const runId = runIdOf(run.seq);
        if (runId !== undefined) {
          counters.duplicateCallbacks += 1;
          void sandbox.deliverCallback(callbackUrl(run.duplicateTo, run.seq), {
            id: runId,
            status: run.outcome.status,
            results: run.outcome.results,
            errors: run.outcome.errors,
          });
        }
      }
      return callbackUrl(run.target, run.seq);
    },
  });
  /** The sandbox's id of a run, found through the seq in its callback URL. */
  function runIdOf(seq: number): string | undefined {
    const ids = sandbox.runIds();
    for (; indexed < ids.length; indexed++) {
      const url = sandbox.run(ids[indexed])?.request.callbackUrl;
      if (url) seqToRunId.set(Number(new URL(url).searchParams.get('seq')), ids[indexed]);
    }
    return seqToRunId.get(seq);
  }

  const moduleOptions: ZapierModuleOptions = {
    requestTimeoutMs: 5000,
    polling: {
      intervalMs: 500,
      overdueAfterMs: 4000,
      maxRequestsPerMinute: o.maxRequestsPerMinute,
      initialBackoffMs: 2000,
      maxBackoffMs: 8000,
      cooldownMs: 1000,
    },
    delivery: {
      leaseMs: o.leaseMs,
      sweepIntervalMs: 250,
      retryBaseDelayMs: 200,
      maxRetryDelayMs: 2000,
    },
  };
  let generation = 0;
  const startNode = async (index: number): Promise<ZapierNodeProcess> => {
    const node = await ZapierNodeProcess.start({
      instanceId: `node-${index}${generation > 0 ? `-r${generation}` : ''}`,
      database: { url: databaseUrl },
      zapier: {
        apiUrl: sandbox.url,
        jwksUrl: sandbox.jwksUrl,
        accessToken: sandbox.accessToken ?? 'any',
        callbackUrl: PUBLIC_CALLBACK,
      },
      options: moduleOptions,
      listener: { delayMs: o.listenerDelayMs },
      echoLogs: o.echoLogs,
    });
    nodes[index] = node;
    allNodes.push(node);
    return node;
  };

  const violations: string[] = [];
  /** Run id → the killed instance that held its delivery when it died. */
  const heldByKilled = new Map<string, string>();
  const created = new Map<string, number>();
  const createErrors: string[] = [];
  let startedAt = Date.now();
  let progress: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; i < o.instances; i++) await startNode(i);
    o.log(
      `${o.instances} instances up (${nodes.map((n) => n.instanceId).join(', ')}); ${o.runs} runs, budget ${o.maxRequestsPerMinute}/min, ${o.kills} kill(s)`,
    );
    startedAt = Date.now();
    progress = setInterval(() => {
      void countStates(dataSource).then(
        (s) =>
          o.log(
            `  ${Math.round((Date.now() - startedAt) / 1000)} s: created ${created.size}/${o.runs}, stored ${s.total}, terminal ${s.terminal}, delivered ${s.delivered}`,
          ),
        () => undefined,
      );
    }, 5000);

    // Creates, in batches through the instances that are never killed; kills in between.
    const batchSize = 20;
    const batches: PlannedRun[][] = [];
    for (let i = 0; i < plan.length; i += batchSize) batches.push(plan.slice(i, i + batchSize));
    const killAt = victims.map((_, k) => Math.floor(((k + 1) * batches.length) / (o.kills + 1)));
    const perMs = o.minutes === null ? null : o.runs / (o.minutes * 60_000);
    const inFlight = new Set<Promise<void>>();
    const kills: Promise<void>[] = [];
    for (let b = 0; b < batches.length; b++) {
      const k = killAt.indexOf(b);
      if (k >= 0) {
        kills.push(
          crashAndRestart(victims[k]).catch((error: unknown) => {
            violations.push(`restarting after the crash failed: ${String(error)}`);
          }),
        );
      }
      if (perMs !== null) {
        const due = startedAt + (b * batchSize) / perMs;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      while (inFlight.size >= 2 * creators.length) await Promise.race(inFlight);
      const node = nodes[creators[b % creators.length]];
      const batch = batches[b];
      const task = createBatch(node, batch).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
    await Promise.all(inFlight);
    await Promise.all(kills);
    o.log(`  all creates answered after ${Math.round((Date.now() - startedAt) / 1000)} s`);

    // Wait for every run to be delivered.
    const deadline = Date.now() + o.drainTimeoutMs;
    for (;;) {
      const s = await countStates(dataSource);
      if (s.total >= sandbox.runIds().length && s.delivered === s.total) break;
      if (Date.now() > deadline) {
        violations.push(
          `not every run was delivered within ${o.drainTimeoutMs} ms of the last create: ${s.delivered}/${s.total} delivered, ${s.terminal} terminal, ${sandbox.runIds().length} runs at Zapier`,
        );
        break;
      }
      await sleep(250);
    }
    const durationMs = Date.now() - startedAt;
    // A stray late delivery (there should be none) would show up within a sweep or two.
    await sleep(1000);
    clearInterval(progress);

    const summary = await analyse(durationMs);
    return { summary, violations, text: formatSummary(summary, violations) };
  } finally {
    clearInterval(progress);
    await Promise.all(nodes.map((node) => node.stop(20_000)));
    await sandbox.stop();
    await closeDatabase();
  }

  async function createBatch(node: ZapierNodeProcess, batch: PlannedRun[]): Promise<void> {
    const inputs: CreateActionRunInput[] = batch.map((run) => ({
      action: 'act_cluster',
      authentication: 'conn_cluster',
      inputs: { seq: run.seq },
      callbackUrl: `${PUBLIC_CALLBACK}?seq=${run.seq}`,
      metadata: { seq: run.seq, ...(run.failFirst > 0 ? { failFirst: run.failFirst } : {}) },
    }));
    let results: Array<{ id: string } | { error: string }>;
    try {
      results = await node.createRuns(inputs);
    } catch (error) {
      createErrors.push(`${node.instanceId}: ${String(error)}`);
      return;
    }
    results.forEach((result, i) => {
      if ('id' in result) created.set(result.id, batch[i].seq);
      else createErrors.push(`run ${batch[i].seq}: ${result.error}`);
    });
  }

  async function crashAndRestart(index: number): Promise<void> {
    const victim = nodes[index];
    await victim.crash();
    // Let the database finish any statement the dead connection had sent, then see what it held.
    await sleep(300);
    const rows = await dataSource.getRepository(ZapierActionRun).find({
      select: { runId: true },
      where: { deliveryClaimedBy: victim.instanceId, deliveryState: 'pending' },
    });
    rows.forEach((row) => heldByKilled.set(row.runId, victim.instanceId));
    o.log(
      `  ${Math.round((Date.now() - startedAt) / 1000)} s: SIGKILLed ${victim.instanceId}, which held ${rows.length} deliveries`,
    );
    await sleep(1500);
    generation += 1;
    const replacement = await startNode(index);
    o.log(`  restarted it as ${replacement.instanceId}`);
  }

  async function analyse(durationMs: number): Promise<ClusterSummary> {
    const sandboxIds = sandbox.runIds();
    const states = await readRunStates(dataSource);
    const log = await readDeliveryLog(dataSource);
    const completed = completedPerRun(log);
    for (const message of createErrors.slice(0, 5)) violations.push(`create failed: ${message}`);
    if (createErrors.length > 5)
      violations.push(`... ${createErrors.length - 5} more create failures`);

    let lost = 0;
    let terminal = 0;
    let delivered = 0;
    let parked = 0;
    let redelivered = 0;
    let takenOver = 0;
    const problems: string[] = [];
    for (const runId of sandboxIds) {
      const zapierRun = sandbox.run(runId);
      const state = states.get(runId);
      const deliveries = completed.get(runId) ?? [];
      if (!created.has(runId)) problems.push(`${runId}: created at Zapier but no create answer`);
      if (!state) {
        lost += 1;
        problems.push(`${runId}: never stored`);
        continue;
      }
      if (state.status === 'success' || state.status === 'error') terminal += 1;
      if (state.status !== zapierRun?.outcome.status) {
        problems.push(
          `${runId}: stored as ${state.status}, Zapier says ${zapierRun?.outcome.status}`,
        );
      }
      if (state.deliveryState === 'delivered') delivered += 1;
      if (state.deliveryState === 'parked') parked += 1;
      if (state.metadataSeq !== created.get(runId)) {
        problems.push(
          `${runId}: metadata ${String(state.metadataSeq)} instead of seq ${created.get(runId)}`,
        );
      }
      const holder = heldByKilled.get(runId);
      if (holder !== undefined && deliveries.some((d) => d.instanceId !== holder)) takenOver += 1;
      if (deliveries.length === 0) {
        lost += 1;
        problems.push(`${runId}: no listener ever completed (delivery ${state.deliveryState})`);
      } else if (deliveries.length > 1) {
        redelivered += 1;
        if (!heldByKilled.has(runId)) {
          problems.push(
            `${runId}: delivered ${deliveries.length} times without a crash (${listDeliveries(deliveries)})`,
          );
        }
      }
      const expected = state.status === 'error' ? 'zapier.run.failed' : 'zapier.run.completed';
      if (deliveries.some((d) => d.event !== expected)) {
        problems.push(`${runId}: heard ${listDeliveries(deliveries)}, expected ${expected}`);
      }
    }
    const known = new Set(sandboxIds);
    for (const runId of states.keys()) {
      if (!known.has(runId)) problems.push(`${runId}: stored but unknown to Zapier`);
    }
    violations.push(...problems.slice(0, 20));
    if (problems.length > 20) violations.push(`... and ${problems.length - 20} more`);

    const requests = sandbox.requests;
    const maxRequestsIn60s = maxInWindow(
      requests.map((request) => request.at),
      60_000,
    );
    if (maxRequestsIn60s > o.maxRequestsPerMinute) {
      violations.push(
        `${maxRequestsIn60s} requests to Zapier within 60 s; the budget is ${o.maxRequestsPerMinute}`,
      );
    }
    if (sandbox.rateLimited > 0)
      violations.push(`Zapier answered 429 ${sandbox.rateLimited} times`);
    const [quarantine] = await dataSource.query<Array<{ n: string }>>(
      'SELECT count(*) AS n FROM zapier_callback_quarantine',
    );
    if (Number(quarantine.n) > 0) violations.push(`${quarantine.n} callbacks quarantined`);

    const attempts = sandbox.deliveries;
    return {
      engine: o.engine,
      runs: o.runs,
      instances: o.instances,
      kills: o.kills,
      created: created.size,
      createErrors: createErrors.length,
      sandboxRuns: sandboxIds.length,
      terminal,
      delivered,
      parked,
      lost,
      completedDeliveries: log.filter((row) => row.outcome === 'ok').length,
      listenerFailures: log.filter((row) => row.outcome === 'threw').length,
      heldByKilled: heldByKilled.size,
      takenOver,
      redeliveredAfterCrash: redelivered,
      duplicateCallbacks: counters.duplicateCallbacks,
      lostCallbacks: counters.lostCallbacks,
      callbacksRefused: attempts.filter((a) => a.status === undefined).length,
      callbacks5xx: attempts.filter((a) => (a.status ?? 0) >= 500).length,
      creates: requests.filter((r) => r.method === 'POST').length,
      polls: requests.filter((r) => r.method === 'GET').length,
      requests: requests.length,
      maxRequestsIn60s,
      budget: o.maxRequestsPerMinute,
      rateLimited: sandbox.rateLimited,
      instanceErrorLines: allNodes.reduce((sum, node) => sum + node.errorLines, 0),
      durationMs,
    };
  }
}

/** Scripts every run from a seeded pseudo-random sequence. */
function planRuns(o: ClusterOptions): PlannedRun[] {
  const random = new SeededRandom(o.seed);
  return Array.from({ length: o.runs }, (_, seq): PlannedRun => {
    const target = seq % o.instances;
    const lost = random.chance(o.lostShare);
    const duplicate = !lost && o.instances > 1 && random.chance(o.duplicateShare);
    const failFirst = random.chance(o.failingShare) ? random.int(1, 2) : 0;
    const error = random.chance(o.errorShare);
    return {
      seq,
      target,
      lost,
      duplicateTo: duplicate ? (target + 1) % o.instances : null,
      failFirst,
      outcome: {
        status: error ? 'error' : 'success',
        results: error ? [] : [{ seq }],
        errors: error ? [RUN_ERROR] : [],
        delayMs: random.int(20, 1520),
        callback: lost ? 'never' : 'deliver',
      },
    };
  });
}

async function countStates(
  dataSource: DataSource,
): Promise<{ total: number; terminal: number; delivered: number }> {
  const [row] = await dataSource.query<Array<Record<string, unknown>>>(
    `SELECT count(*) AS total, sum(CASE WHEN status <> 'pending' THEN 1 ELSE 0 END) AS terminal,
  sum(CASE WHEN delivery_state = 'delivered' THEN 1 ELSE 0 END) AS delivered
FROM zapier_action_runs`,
  );
  return {
    total: Number(row.total),
    terminal: Number(row.terminal),
    delivered: Number(row.delivered),
  };
}

async function readRunStates(
  dataSource: DataSource,
): Promise<Map<string, { status: string; deliveryState: string; metadataSeq: number | null }>> {
  const runs = await dataSource.getRepository(ZapierActionRun).find();
  return new Map(
    runs.map((run) => [
      run.runId,
      {
        status: run.status,
        deliveryState: run.deliveryState,
        metadataSeq: (run.metadata as { seq?: number } | null)?.seq ?? null,
      },
    ]),
  );
}

function listDeliveries(deliveries: readonly DeliveryLogRow[]): string {
  return deliveries.map((d) => `${d.event}#${d.attempt}@${d.instanceId}`).join(', ');
}

/** The summary as a few lines. */
export function formatSummary(s: ClusterSummary, violations: readonly string[]): string {
  const lines = [
    `cluster: ${s.runs} runs on ${s.instances} instances (one ${s.engine === 'mariadb' ? 'MariaDB' : 'PostgreSQL'}), ${s.kills} SIGKILL + restart, ${(s.durationMs / 1000).toFixed(1)} s`,
    `  runs: ${s.created} created (${s.createErrors} failed), ${s.sandboxRuns} at Zapier, ${s.terminal} terminal, ${s.delivered} delivered, ${s.parked} parked, ${s.lost} lost`,
    `  callbacks: ${s.duplicateCallbacks} also sent to a 2nd instance at once, ${s.lostCallbacks} never sent, ${s.callbacksRefused} attempts refused (instance down), ${s.callbacks5xx} answered 5xx`,
    `  deliveries: ${s.completedDeliveries} completed, ${s.listenerFailures} listener failures retried`,
    `  crash: ${s.heldByKilled} deliveries held by the killed instance(s), ${s.takenOver} taken over by another instance after the lease, ${s.redeliveredAfterCrash} runs heard twice`,
    `  zapier requests: ${s.creates} creates + ${s.polls} polls; max ${s.maxRequestsIn60s} in any 60 s window (budget ${s.budget}/min), ${s.rateLimited} x 429`,
    `  instance error log lines: ${s.instanceErrorLines}`,
    violations.length === 0 ? '  violations: none' : `  VIOLATIONS (${violations.length}):`,
    ...violations.map((v) => `    - ${v}`),
  ];
  return lines.join('\n');
}
