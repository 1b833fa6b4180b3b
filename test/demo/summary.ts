import { isDeepStrictEqual } from 'node:util';
import type { SandboxDelivery, SandboxRequestRecord } from '../../src/testing/index.js';
import type { HeardEvent } from './demo-listener.service.js';
import { DEMO_RETENTION_MS } from './demo.module.js';
import { expectationFor, type PlannedRun } from './scenario.js';

/** Everything the demo observed, from both sides: the app's listener and the sandbox. */
export interface DemoObservations {
  planned: readonly PlannedRun[];
  /** Started runs by Zapier run id. */
  started: ReadonlyMap<string, PlannedRun>;
  createErrors: ReadonlyArray<{ run: PlannedRun; message: string }>;
  heard: readonly HeardEvent[];
  requests: readonly SandboxRequestRecord[];
  deliveries: readonly SandboxDelivery[];
  /** When the sandbox finished each run (`Date.now()`), `null` while it never did. */
  completedAt: ReadonlyMap<string, number | null>;
  /** 429 answers the sandbox sent. */
  rateLimited: number;
  /** `polling.maxRequestsPerMinute`. */
  budget: number;
  elapsedMs: number;
  /** Set when the demo stopped waiting before every run was heard. */
  gaveUpAfterMs: number | null;
  logWarnings: readonly string[];
  logErrors: readonly string[];
}

/** The verdict: counts for the summary, and what went wrong. */
export interface DemoReport {
  rows: Array<[label: string, value: string]>;
  /** Each makes the exit code 1. */
  problems: string[];
  /** Worth knowing, not wrong. */
  notes: string[];
}

const WINDOW_MS = 60_000;

/** Checks that every started run produced exactly one event, as scripted, and counts. */
export function analyseDemo(o: DemoObservations): DemoReport {
  const problems: string[] = [];
  const notes: string[] = [];
  const byRun = new Map<string, HeardEvent[]>();
  for (const event of o.heard) {
    const list = byRun.get(event.runId) ?? [];
    list.push(event);
    byRun.set(event.runId, list);
  }

  for (const { run, message } of o.createErrors) {
    problems.push(`${describeRun(run)}: the create call failed: ${message}`);
  }
  let exactlyOnce = 0;
  for (const [runId, run] of o.started) {
    const events = byRun.get(runId) ?? [];
    const mistakes = checkRun(run, events);
    if (mistakes.length === 0) exactlyOnce += 1;
    problems.push(...mistakes.map((m) => `${describeRun(run, runId)}: ${m}`));
    const expected = expectationFor(run);
    if (events.length === 1 && expected.via === 'callback' && events[0].source === 'poll') {
      notes.push(
        `${describeRun(run, runId)}: its callback was sent, but the poller found it first.`,
      );
    }
  }
  for (const [runId, events] of byRun) {
    if (o.started.has(runId)) continue;
    problems.push(
      `heard ${events.map((e) => e.name).join(', ')} for run ${runId}, which the demo did not start (left over in the database from an earlier demo? use an empty one)`,
    );
  }

  const ours = o.heard.filter((e) => o.started.has(e.runId));
  const count = (name: HeardEvent['name']) => ours.filter((e) => e.name === name).length;
  const failedCodes = tally(
    ours.filter((e) => e.name === 'zapier.run.failed').map((e) => e.errors?.[0]?.code ?? '?'),
  );
  const viaPoll = ours.filter((e) => e.source === 'poll').length;
  const lostPlanned = [...o.started.values()].filter((r) => expectationFor(r).via === 'poll');

  const deliveries = analyseDeliveries(o.deliveries, problems, notes);
  const requests = analyseRequests(o, problems);

  if (o.gaveUpAfterMs !== null) {
    const missing = o.started.size - [...o.started.keys()].filter((id) => byRun.has(id)).length;
    problems.unshift(
      `gave up waiting after ${seconds(o.gaveUpAfterMs)} with ${missing} run(s) still unheard.`,
    );
  }
  for (const error of o.logErrors) problems.push(`the app logged an error: ${error}`);

  const rows: DemoReport['rows'] = [
    ['runs started', `${o.started.size} / ${o.planned.length}`],
    ['completed', `${count('zapier.run.completed')}`],
    [
      'failed',
      `${count('zapier.run.failed')}${failedCodes ? `   (Zapier error codes: ${failedCodes})` : ''}`,
    ],
    [
      'expired',
      `${count('zapier.run.expired')}   (never finished; retention shortened to ${seconds(DEMO_RETENTION_MS)})`,
    ],
    [
      'recovered by polling',
      `${viaPoll}   (of ${lostPlanned.length} whose callback was never sent)`,
    ],
    ['duplicates absorbed', `${deliveries.absorbed}   (extra callbacks answered 2xx, no event)`],
    [
      'events per run',
      `${exactlyOnce === o.started.size ? 'exactly 1 each' : `exactly 1 for ${exactlyOnce} of ${o.started.size}`}   (${ours.length} events, ${ours.filter((e) => e.attempt === 1).length} on attempt 1)`,
    ],
    ['callbacks', deliveries.line],
    ['result to event', latency(o, ours)],
    ['requests spent', requests],
    [
      'app log',
      `${o.logWarnings.length} warning(s), ${o.logErrors.length} error(s)${o.logWarnings.length + o.logErrors.length > 0 ? ' (shown above)' : ''}`,
    ],
    ['time taken', seconds(o.elapsedMs)],
  ];
  return { rows, problems, notes };
}

/** The summary as printed. */
export function formatSummary(report: DemoReport, title: string): string {
  const width = Math.max(...report.rows.map(([label]) => label.length));
  const lines = [
    '',
    title,
    ...report.rows.map(([label, value]) => `  ${label.padEnd(width)}   ${value}`),
    '',
  ];
  if (report.notes.length > 0) {
    lines.push('Notes:', ...report.notes.map((n) => `  - ${n}`), '');
  }
  if (report.problems.length === 0) {
    lines.push('OK: every run was accounted for exactly once.');
  } else {
    lines.push(
      `FAILED: ${report.problems.length} problem(s):`,
      ...report.problems.map((p) => `  - ${p}`),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** What is wrong with one started run's events (nothing, when it was heard once, as scripted). */
function checkRun(run: PlannedRun, events: HeardEvent[]): string[] {
  const expected = expectationFor(run);
  const via = expected.via ? ` via ${expected.via}` : '';
  if (events.length === 0) return [`no event heard; expected ${expected.event}${via}.`];
  const mistakes: string[] = [];
  if (events.length > 1) {
    const list = events.map((e) => `${e.name} (attempt ${e.attempt}, ${e.source ?? '-'})`);
    mistakes.push(`heard ${events.length} events instead of 1: ${list.join(', ')}.`);
  }
  const event = events[0];
  if (event.attempt !== 1) mistakes.push(`its event came on attempt ${event.attempt}, not 1.`);
  if (event.name !== expected.event) {
    mistakes.push(`heard ${event.name}, expected ${expected.event}.`);
    return mistakes;
  }
  if (!isDeepStrictEqual(event.metadata, run.metadata)) {
    mistakes.push(
      `metadata ${JSON.stringify(event.metadata)} differs from what was sent, ${JSON.stringify(run.metadata)}.`,
    );
  }
  if (expected.via === 'poll' && event.source !== 'poll') {
    mistakes.push(`came via ${event.source}, but no callback was ever sent for it.`);
  }
  if (expected.results && !isDeepStrictEqual(event.results, expected.results)) {
    mistakes.push(
      `results ${JSON.stringify(event.results)} differ from Zapier's ${JSON.stringify(expected.results)}.`,
    );
  }
  if (expected.errorCode && event.errors?.[0]?.code !== expected.errorCode) {
    mistakes.push(
      `error code ${event.errors?.[0]?.code} differs from Zapier's ${expected.errorCode}.`,
    );
  }
  if (expected.event === 'zapier.run.expired' && event.expiredReason !== 'retention') {
    mistakes.push(`expired for "${event.expiredReason}", expected "retention".`);
  }
  return mistakes;
}

function analyseDeliveries(
  deliveries: readonly SandboxDelivery[],
  problems: string[],
  notes: string[],
): { absorbed: number; line: string } {
  const accepted = new Map<string, number>();
  let answered2xx = 0;
  for (const d of deliveries) {
    const ok = d.status !== undefined && d.status >= 200 && d.status < 300;
    if (ok) {
      answered2xx += 1;
      accepted.set(d.runId, (accepted.get(d.runId) ?? 0) + 1);
    } else if (d.status !== undefined && d.status < 500) {
      problems.push(`the app answered ${d.status} to a genuine signed callback for ${d.runId}.`);
    } else {
      notes.push(
        `callback for ${d.runId} (attempt ${d.attempt}) got ${d.status ?? d.error}; Zapier retries those.`,
      );
    }
  }
  const absorbed = [...accepted.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  const others = deliveries.length - answered2xx;
  const line = `${deliveries.length} delivered, ${others === 0 ? 'all' : answered2xx} answered 2xx`;
  return { absorbed, line };
}

function analyseRequests(o: DemoObservations, problems: string[]): string {
  const creates = o.requests.filter((r) => r.method === 'POST').length;
  const polls = o.requests.filter((r) => r.method === 'GET').length;
  const times = o.requests.map((r) => r.at).sort((a, b) => a - b);
  let busiest = 0;
  for (let start = 0, end = 0; end < times.length; end++) {
    while (times[end] - times[start] >= WINDOW_MS) start++;
    busiest = Math.max(busiest, end - start + 1);
  }
  if (busiest > o.budget) {
    problems.push(`${busiest} requests in one 60 s window, over the budget of ${o.budget}.`);
  }
  if (o.rateLimited > 0) {
    problems.push(`the sandbox answered 429 ${o.rateLimited} time(s): the budget was not kept.`);
  }
  return (
    `${o.requests.length} (${creates} creates + ${polls} polls); at most ${busiest} in any 60 s ` +
    `against a budget of ${o.budget}/min; ${o.rateLimited} answered 429`
  );
}

/** How long after Zapier finished a run its event was heard, callbacks and polls apart. */
function latency(o: DemoObservations, events: readonly HeardEvent[]): string {
  const delays = (source: HeardEvent['source']) =>
    events
      .filter((e) => e.source === source)
      .map((e) => e.at - (o.completedAt.get(e.runId) ?? e.at))
      .sort((a, b) => a - b);
  const describe = (ms: number[]) =>
    ms.length === 0
      ? 'none'
      : `median ${ms[Math.floor(ms.length / 2)]} ms, slowest ${ms[ms.length - 1]} ms`;
  return `via callback ${describe(delays('callback'))}; via poll ${describe(delays('poll'))}`;
}

function describeRun(run: PlannedRun, runId?: string): string {
  return `run #${run.index} (${run.scenario}${runId ? `, ${runId}` : ''})`;
}

function tally(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, n]) => `${n} ${v}`)
    .join(', ');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
