import type {
  ZapierRunError,
  ZapierRunResults,
  ZapierRunSource,
  ZapierTerminalStatus,
} from '../interfaces/action-run.interface.js';

/** A terminal result to store, from a callback or a poll. Times are epoch milliseconds. */
export interface TerminalResult {
  runId: string;
  status: ZapierTerminalStatus;
  results: ZapierRunResults;
  errors: ZapierRunError[];
  rawPayload: string;
  source: ZapierRunSource;
  receivedAt: number;
}

/** What an event is built from: a run whose terminal state awaits delivery to listeners. */
export interface DeliverableRun {
  runId: string;
  status: ZapierTerminalStatus | 'expired';
  results: ZapierRunResults;
  errors: ZapierRunError[];
  metadata: Record<string, unknown> | null;
  source: ZapierRunSource | null;
  receivedAt: number | null;
  submittedAt: number | null;
  expiredReason: string | null;
  /** 1 for the first delivery, 2 for the first retry... */
  attempt: number;
  /** When delivery may start; in the future while a create call may still attach metadata. */
  deliveryNextAt: number;
}

/** A pending run the poller claimed. */
export interface OverdueRun {
  runId: string;
  submittedAt: number | null;
  createdAt: number;
  pollAttempts: number;
}

/** Who is acting and when: every claim names its instance and how long it holds. */
export interface ClaimContext {
  now: number;
  instanceId: string;
  claimUntil: number;
}

/**
 * How a statement that makes runs terminal claims their delivery: for this instance (a
 * `ClaimContext`), or for nobody (`instanceId: null`, when this instance's runner is full): then
 * the delivery is due at once, not yet attempted, for the first sweep of any instance.
 */
export type DeliveryClaim = ClaimContext | { now: number; instanceId: null; claimUntil: null };
