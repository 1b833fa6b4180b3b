/** The kinds of hostile request the flood generator sends (bench/flood-generator.ts). */
export type FloodKind =
  | 'upload'
  | 'bomb-br-unsigned'
  | 'bomb-gzip-unsigned'
  | 'bomb-br-signed'
  | 'bomb-gzip-signed'
  | 'random-kid';

export const FLOOD_KINDS: readonly FloodKind[] = [
  'upload',
  'bomb-br-unsigned',
  'bomb-gzip-unsigned',
  'bomb-br-signed',
  'bomb-gzip-signed',
  'random-kid',
];

/** What to send while the genuine load runs. */
export interface FloodSpec {
  url: string;
  /** Valid `Zapier-Callback-Signature` tokens, for the signed bombs. */
  signedTokens: string[];
  /** Unsigned uploads: this many connections at once, each reconnecting when closed. */
  uploadConnections: number;
  /** `Content-Length` each upload declares (and tries to send). */
  uploadBytes: number;
  /**
   * The other kinds are sent at a fixed rate (requests/s), at most `maxInFlight` of each at
   * once, so that their number is the same against every server and every round.
   */
  paced: Record<Exclude<FloodKind, 'upload'>, number>;
  maxInFlight: number;
}

/** How one kind of hostile request was answered. */
export interface FloodKindResult {
  /** Requests started (for uploads: connections opened). */
  sent: number;
  /** Answers by status; `network` for a connection closed or reset before any answer. */
  statuses: Record<string, number>;
  /** The first answer body seen for each status (trimmed), to tell refusals apart. */
  firstBodies: Record<string, string>;
  /** Body bytes the socket accepted (written to the kernel; not necessarily read by the server). */
  bytesWritten: number;
  /** Median time from the answer to the connection's close, ms (uploads: the server's linger). */
  closeAfterAnswerMs: number | null;
  /** Median time from the first byte sent to the answer, ms. */
  answerMs: number | null;
  /** Requests still unanswered when the flood stopped. */
  unfinished: number;
}

export interface FloodResult {
  seconds: number;
  kinds: Record<FloodKind, FloodKindResult>;
  /** CPU the flood generator used, as a share of one core. */
  cpuShare: number;
}

/** Sizes of the bombs, for the report: bytes on the wire and once inflated. */
export interface BombSizes {
  br: { wire: number; inflated: number };
  gzip: { wire: number; inflated: number };
}

export type ParentToFlood =
  { type: 'start'; spec: FloodSpec } | { type: 'stop' } | { type: 'exit' };

export type FloodToParent =
  | { type: 'ready'; bombs: BombSizes }
  | { type: 'started' }
  | { type: 'result'; result: FloodResult }
  | { type: 'failed'; message: string };
