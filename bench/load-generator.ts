import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { LoadResult, LoadSpec, LoadToParent, ParentToLoad } from './support/bench-messages.js';
import { LatencyRecorder } from './support/latency-recorder.js';

/**
 * The load generator, in its own process (started by `run-bench`, driven over IPC): a closed loop
 * of `connections` keep-alive connections (`node:http` Agent), each sending the next signed
 * callback as soon as the previous one is answered.
 */

const REQUEST_TIMEOUT_MS = 15_000;
/** Duplicates repeat one of the last this-many run ids. */
const RECENT_IDS = 4096;
/** One run in ten reports an error, so both event kinds and the nested error DTO are exercised. */
const ERROR_EVERY = 10;

/** Run-id bookkeeping that carries over between loads with the same prefix (memory check). */
class IdSession {
  next = 0;
  sent = 0;
  ok = 0;
  errors = 0;
  duplicatesSent = 0;
  readonly recent: string[] = [];
  readonly acked = new Set<string>();
  readonly statuses: Record<string, number> = {};
  firstError: string | null = null;
  /** Every measured round of this session, pooled for its p50/p99. */
  readonly measured = new LatencyRecorder();
  measuredMs = 0;
  /** Connections stay open between the loads of a session (rounds are interleaved). */
  readonly agent: Agent;

  constructor(
    readonly prefix: string,
    connections: number,
  ) {
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: connections,
      maxFreeSockets: connections,
    });
  }

  /** The run id of the next request: mostly new, `duplicateRate` of them a recent one again. */
  pick(duplicateRate: number): { id: string; n: number } {
    if (this.recent.length > 0 && Math.random() < duplicateRate) {
      this.duplicatesSent += 1;
      const id = this.recent[Math.floor(Math.random() * this.recent.length)];
      return { id, n: Number(id.slice(this.prefix.length)) };
    }
    const n = this.next++;
    const id = `${this.prefix}${n}`;
    if (this.recent.length < RECENT_IDS) this.recent.push(id);
    else this.recent[n % RECENT_IDS] = id;
    return { id, n };
  }
}

const sessions = new Map<string, IdSession>();

/** The body Zapier POSTs (docs/decisions.md#f3); the same run id always gets the same outcome. */
function callbackBody(id: string, n: number): string {
  if (n % ERROR_EVERY === ERROR_EVERY - 1) {
    return `{"data":{"type":"run","id":"${id}","status":"error","results":[],"errors":[{"code":"user","title":"Invalid input","detail":"The channel #general-${n} does not exist."}]}}`;
  }
  return `{"data":{"type":"run","id":"${id}","status":"success","results":[{"ok":true,"message_id":"msg_${n}","channel":"C0123456","ts":"1716383730.${n}"}],"errors":[]}}`;
}

export async function applyLoad(spec: LoadSpec): Promise<LoadResult> {
  const target = new URL(spec.url);
  let session = sessions.get(spec.idPrefix);
  if (!session) {
    session = new IdSession(spec.idPrefix, spec.connections);
    sessions.set(spec.idPrefix, session);
  }
  const ids = session;
  const agent = session.agent;
  let tokenIndex = 0;

  const start = performance.now();
  const cpuAtStart = process.cpuUsage();
  const plan = spec.plan;
  const warmup = new LatencyRecorder();
  const rounds: LatencyRecorder[] = [];
  const whole = new LatencyRecorder();
  const late = new LatencyRecorder();
  let issued = 0;
  let lastCompletion = start;
  const endAt =
    plan.kind === 'rounds' ? start + plan.warmupMs + plan.roundMs * plan.rounds : Infinity;
  const shouldIssue = () =>
    plan.kind === 'rounds' ? performance.now() < endAt : issued < plan.callbacks;
  /** Which phase a request belongs to, by the time it completed. */
  const phaseAt = (at: number): LatencyRecorder => {
    if (plan.kind === 'count') return whole;
    const sinceStart = at - start;
    if (sinceStart < plan.warmupMs) return warmup;
    const index = Math.floor((sinceStart - plan.warmupMs) / plan.roundMs);
    if (index >= plan.rounds) return late;
    while (rounds.length <= index) rounds.push(new LatencyRecorder());
    return rounds[index];
  };

  await new Promise<void>((resolveAll) => {
    let active = spec.connections;
    const loop = () => {
      if (!shouldIssue()) {
        active -= 1;
        if (active === 0) resolveAll();
        return;
      }
      issued += 1;
      const { id, n } = ids.pick(spec.duplicateRate);
      const body = callbackBody(id, n);
      const token = spec.tokens[tokenIndex++ % spec.tokens.length];
      ids.sent += 1;
      const sentAt = performance.now();
      let settled = false;
      const finish = (status: number, error?: Error) => {
        if (settled) return;
        settled = true;
        const now = performance.now();
        lastCompletion = now;
        const ok = status >= 200 && status < 300;
        phaseAt(now).record(now - sentAt, ok);
        if (ok) {
          ids.ok += 1;
          ids.acked.add(id);
        } else {
          ids.errors += 1;
          const key = status === 0 ? 'network' : String(status);
          ids.statuses[key] = (ids.statuses[key] ?? 0) + 1;
          ids.firstError ??= error ? error.message : `HTTP ${status}`;
        }
        loop();
      };
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'zapier-callback-signature': token,
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              finish(
                status,
                new Error(`HTTP ${status}: ${Buffer.concat(chunks).toString().slice(0, 300)}`),
              ),
            );
          } else {
            res.resume();
            res.on('end', () => finish(status));
          }
          res.on('error', (error) => finish(0, error));
        },
      );
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('request timed out')));
      req.on('error', (error) => finish(0, error));
      req.end(body);
    };
    for (let i = 0; i < spec.connections; i += 1) loop();
  });
  const cpu = process.cpuUsage(cpuAtStart);
  const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - start);

  let measured: LatencyRecorder;
  let measuredMs: number;
  if (plan.kind === 'rounds') {
    measured = new LatencyRecorder();
    rounds.forEach((round) => measured.absorb(round));
    measuredMs = plan.roundMs * plan.rounds;
    ids.measured.absorb(measured);
    ids.measuredMs += measuredMs;
  } else {
    measured = whole;
    measuredMs = lastCompletion - start;
  }
  return {
    warmup: plan.kind === 'rounds' && plan.warmupMs > 0 ? warmup.result(plan.warmupMs) : null,
    rounds: plan.kind === 'rounds' ? rounds.map((round) => round.result(plan.roundMs)) : [],
    measured: measured.result(measuredMs),
    pooled: ids.measured.result(ids.measuredMs),
    cpuShare,
    totals: {
      sent: ids.sent,
      ok: ids.ok,
      errors: ids.errors,
      duplicatesSent: ids.duplicatesSent,
      distinctIds: ids.next,
      ackedDistinctIds: ids.acked.size,
      statuses: { ...ids.statuses },
      firstError: ids.firstError,
    },
  };
}

if (process.send) {
  const reply = (message: LoadToParent) => process.send?.(message);
  process.on('message', (message: ParentToLoad) => {
    if (message.type === 'stop') {
      sessions.forEach((session) => session.agent.destroy());
      process.disconnect();
      return;
    }
    if (message.type === 'end-session') {
      sessions.get(message.idPrefix)?.agent.destroy();
      sessions.delete(message.idPrefix);
      return;
    }
    applyLoad(message.spec).then(
      (result) => reply({ type: 'result', result }),
      (error: unknown) => reply({ type: 'failed', message: String(error) }),
    );
  });
}
