import type { ZapierEventName, ZapierRunError } from '../../src/index.js';
import type { RunOutcome, SandboxCreateRequest } from '../../src/testing/index.js';

/** How one demo run goes; it travels in the run's `inputs.scenario`, so the sandbox can act it. */
export type ScenarioName =
  | 'success'
  | 'duplicate'
  | 'before-response'
  | 'fail-user'
  | 'fail-throttled'
  | 'fail-auth'
  | 'lost'
  | 'lost-failed'
  | 'stuck';

/** One run the demo will start. */
export interface PlannedRun {
  /** 1-based position in the plan. */
  index: number;
  scenario: ScenarioName;
  inputs: { scenario: ScenarioName; index: number; channel: string; text: string };
  /** Sent with the create call; every event of the run must carry it back unchanged. */
  metadata: { demoRun: number; scenario: ScenarioName };
}

/** The one event a run must produce. */
export interface Expectation {
  event: ZapierEventName;
  /**
   * `poll`: only the poller can find the result (no callback is ever sent); `callback`: a
   * callback is sent, so the result should arrive that way; `null`: expired, no result at all.
   */
  via: 'callback' | 'poll' | null;
  results?: Record<string, unknown>[];
  errorCode?: string;
}

interface ScenarioScript {
  outcome(index: number): RunOutcome;
  expectation(index: number): Expectation;
}

const COMPLETED = 'zapier.run.completed';
const FAILED = 'zapier.run.failed';

const errors: Record<'user' | 'throttled' | 'authentication' | 'partner', ZapierRunError> = {
  user: {
    code: 'user',
    title: 'Channel not found',
    detail: 'The channel #demo-archived does not exist.',
  },
  throttled: {
    code: 'throttled',
    title: 'Throttled',
    detail: 'The partner API asked to slow down.',
    delay: 30,
  },
  authentication: {
    code: 'authentication',
    title: 'Connection expired',
    detail: 'Reconnect the Slack account.',
  },
  partner: { code: 'partner', title: 'Partner error', detail: 'Slack answered 500.' },
};

/** The results the sandbox returns for a successful run, and the listener must see. */
export function resultsFor(index: number): Record<string, unknown>[] {
  return [{ id: `msg_${index}`, channel: '#demo', ok: true }];
}

/** Zapier takes 20 to 180 ms to run an action here, varying by run. */
const delayFor = (index: number): number => 20 + ((index * 37) % 160);

const succeeds = (via: 'callback' | 'poll', callback: RunOutcome['callback']): ScenarioScript => ({
  outcome: (index) => ({
    status: 'success',
    results: resultsFor(index),
    delayMs: delayFor(index),
    callback,
  }),
  expectation: (index) => ({ event: COMPLETED, via, results: resultsFor(index) }),
});

const fails = (
  error: ZapierRunError,
  via: 'callback' | 'poll',
  callback: RunOutcome['callback'],
): ScenarioScript => ({
  outcome: (index) => ({ status: 'error', errors: [error], delayMs: delayFor(index), callback }),
  expectation: () => ({ event: FAILED, via, errorCode: error.code }),
});

const SCRIPTS: Record<ScenarioName, ScenarioScript> = {
  success: succeeds('callback', 'deliver'),
  duplicate: succeeds('callback', 'twice'),
  'before-response': succeeds('callback', 'before-response'),
  'fail-user': fails(errors.user, 'callback', 'deliver'),
  'fail-throttled': fails(errors.throttled, 'callback', 'deliver'),
  'fail-auth': fails(errors.authentication, 'callback', 'deliver'),
  lost: succeeds('poll', 'never'),
  'lost-failed': fails(errors.partner, 'poll', 'never'),
  stuck: {
    // Zapier never finishes it: polls keep answering "waiting" until the run is older than the
    // retention (shortened for the demo), and the module expires it.
    outcome: () => ({ status: 'success', delayMs: 24 * 60 * 60 * 1000, callback: 'never' }),
    expectation: () => ({ event: 'zapier.run.expired', via: null }),
  },
};

/** What each scenario shows, for the summary. */
export const SCENARIO_LABELS: Record<ScenarioName, string> = {
  success: 'succeeds, one callback',
  duplicate: 'succeeds, callback sent twice',
  'before-response': 'succeeds, callback before the create response',
  'fail-user': 'fails with code user',
  'fail-throttled': 'fails with code throttled (delay 30 s)',
  'fail-auth': 'fails with code authentication',
  lost: 'succeeds, callback never sent',
  'lost-failed': 'fails with code partner, callback never sent',
  stuck: 'never finishes',
};

const FAILURES: ScenarioName[] = ['fail-user', 'fail-throttled', 'fail-auth'];

/**
 * The mix for `runs` runs: one callback before the create response, one run that never
 * finishes (from 5 runs), `loss` of them without a callback (one in four of those failing),
 * about 12% failing with Zapier error codes, about 8% with a duplicate callback, the rest plain
 * successes; shuffled the same way every time.
 */
export function planRuns(runs: number, loss: number): PlannedRun[] {
  const names: ScenarioName[] = [];
  const add = (name: ScenarioName, count: number) => {
    const room = Math.max(0, Math.min(count, runs - names.length));
    for (let i = 0; i < room; i++) names.push(name);
  };
  add('before-response', 1);
  add('stuck', runs >= 5 ? 1 : 0);
  const lost = Math.round(runs * loss);
  add('lost-failed', Math.floor(lost / 4));
  add('lost', lost - Math.floor(lost / 4));
  const failures = Math.min(Math.round(runs * 0.12), runs - names.length);
  for (let i = 0; i < failures; i++) add(FAILURES[i % FAILURES.length], 1);
  add('duplicate', Math.round(runs * 0.08));
  add('success', runs - names.length);
  shuffle(names, 0x5eed);
  return names.map((scenario, i) => {
    const index = i + 1;
    return {
      index,
      scenario,
      inputs: { scenario, index, channel: '#demo', text: `Demo message ${index}` },
      metadata: { demoRun: index, scenario },
    };
  });
}

/** The sandbox's `outcome` option: acts out the scenario named in the run's inputs. */
export function outcomeFor(request: SandboxCreateRequest): RunOutcome {
  const { scenario, index } = request.inputs as Partial<PlannedRun['inputs']>;
  const script = scenario !== undefined ? SCRIPTS[scenario] : undefined;
  if (!script || typeof index !== 'number') return SCRIPTS.success.outcome(0);
  return script.outcome(index);
}

/** The event a planned run must produce. */
export function expectationFor(run: PlannedRun): Expectation {
  return SCRIPTS[run.scenario].expectation(run.index);
}

/** Fisher-Yates with a small seeded generator (mulberry32), so the mix is the same every run. */
function shuffle<T>(items: T[], seed: number): void {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}
