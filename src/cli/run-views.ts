import type { ZapierRunState } from '../interfaces/action-run.interface.js';
import type { ZapierListedRun } from '../runs/zapier-runs.service.js';
import type { ZapierActionRun } from '../storage/zapier-action-run.entity.js';
import type { ZapierCallbackQuarantine } from '../storage/zapier-callback-quarantine.entity.js';
import { fields, table, time } from './cli-output.js';
import { formatDuration } from './cli-values.js';

/** How much of a stored body `show` prints for a person; `--json` prints all of it. */
const SHOWN_BODY_CHARACTERS = 4000;

/** A run as `--json` prints it: every column, times as ISO strings, its state first. */
export function runJson(
  run: ZapierActionRun,
  state: ZapierRunState,
  options: { rawPayload: boolean },
): Record<string, unknown> {
  const { runId, rawPayload, ...rest } = run;
  return { runId, state, ...rest, ...(options.rawPayload ? { rawPayload } : {}) };
}

export function runsTable(listed: readonly ZapierListedRun[], now: number): string {
  if (listed.length === 0) return 'No runs.';
  return table(listed, [
    { heading: 'RUN ID', cell: ({ run }) => run.runId, maxWidth: 40 },
    { heading: 'STATE', cell: ({ state }) => state },
    { heading: 'STATUS', cell: ({ run }) => run.status },
    { heading: 'CREATED', cell: ({ run }) => time(run.createdAt) },
    { heading: 'AGE', cell: ({ run }) => formatDuration(now - run.createdAt.getTime()) },
    { heading: 'POLLS', cell: ({ run }) => String(run.pollAttempts) },
    { heading: 'DELIVERIES', cell: ({ run }) => String(run.deliveryAttempts) },
    { heading: 'LAST ERROR', cell: ({ run }) => lastError(run), maxWidth: 60 },
  ]);
}

export function runDetails(run: ZapierActionRun, state: ZapierRunState): string {
  return fields([
    ['run', run.runId],
    ['state', state],
    ['status', run.status],
    ['action', run.action ?? '-'],
    ['source', run.source ?? '-'],
    ['metadata', json(run.metadata)],
    ['submitted', time(run.submittedAt)],
    ['received', time(run.receivedAt)],
    ['completed', time(run.completedAt)],
    ['created', time(run.createdAt)],
    ['updated', time(run.updatedAt)],
    ['expired', run.expiredReason ?? '-'],
    [
      'polling',
      `${run.pollAttempts} polls; next ${time(run.pollNextAt)}; claimed by ${claim(run.pollClaimedBy, run.pollClaimUntil)}`,
    ],
    ['poll error', run.pollLastError ?? '-'],
    [
      'delivery',
      `${run.deliveryState}, ${run.deliveryAttempts} attempts; next ${time(run.deliveryNextAt)}; claimed by ${claim(run.deliveryClaimedBy, run.deliveryClaimUntil)}`,
    ],
    ['delivery error', run.deliveryLastError ?? '-'],
    ['delivered', time(run.deliveredAt)],
    ['results', json(run.results)],
    ['errors', json(run.errors)],
    ['raw payload', body(run.rawPayload)],
  ]);
}

export function quarantineTable(entries: readonly ZapierCallbackQuarantine[]): string {
  if (entries.length === 0) return 'No quarantined callbacks.';
  return table(entries, [
    { heading: 'ID', cell: (entry) => String(entry.id) },
    { heading: 'RUN ID', cell: (entry) => entry.runId ?? '-', maxWidth: 40 },
    { heading: 'RECEIVED', cell: (entry) => time(entry.receivedAt) },
    { heading: 'BYTES', cell: (entry) => String(Buffer.byteLength(entry.rawBody)) },
    { heading: 'REASON', cell: (entry) => entry.reason, maxWidth: 80 },
  ]);
}

/** A quarantined callback as `--json` prints it; the body only where asked. */
export function quarantineJson(
  entry: ZapierCallbackQuarantine,
  options: { rawBody: boolean },
): Record<string, unknown> {
  const { rawBody, ...rest } = entry;
  return { ...rest, bytes: Buffer.byteLength(rawBody), ...(options.rawBody ? { rawBody } : {}) };
}

export function quarantineDetails(entry: ZapierCallbackQuarantine): string {
  return fields([
    ['id', String(entry.id)],
    ['run', entry.runId ?? '-'],
    ['received', time(entry.receivedAt)],
    ['reason', entry.reason],
    ['body', body(entry.rawBody)],
  ]);
}

function lastError(run: ZapierActionRun): string {
  return run.deliveryLastError ?? run.pollLastError ?? '';
}

function claim(by: string | null, until: Date | null): string {
  return by === null ? 'nobody' : `${by} until ${time(until)}`;
}

function json(value: unknown): string {
  return value === null || value === undefined ? '-' : JSON.stringify(value, null, 2);
}

function body(text: string | null): string {
  if (text === null) return '-';
  const bytes = `${Buffer.byteLength(text)} bytes`;
  if (text.length <= SHOWN_BODY_CHARACTERS) return `${bytes}\n${text}`;
  return `${bytes}, the first ${SHOWN_BODY_CHARACTERS} characters (--json shows all):\n${text.slice(0, SHOWN_BODY_CHARACTERS)}`;
}
