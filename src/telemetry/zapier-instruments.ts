/**
 * Every instrument the module records, by name, with its unit and what it counts; the README's
 * table lists the same. Names and units follow OpenTelemetry's conventions: dotted lowercase
 * names under `zapier.`, durations in seconds, counts in curly-brace units.
 */
export const ZAPIER_INSTRUMENTS = {
  callbacks: {
    name: 'zapier.callbacks',
    unit: '{callback}',
    description: 'Callbacks answered, by outcome (zapier.callback.outcome).',
  },
  callbackDuration: {
    name: 'zapier.callback.duration',
    unit: 's',
    description: 'From a verified, read callback body to its durable commit or refusal.',
  },
  polls: {
    name: 'zapier.polls',
    unit: '{poll}',
    description: 'Reads of overdue runs, by outcome (zapier.poll.outcome).',
  },
  creates: {
    name: 'zapier.creates',
    unit: '{run}',
    description: 'Runs started through ZapierClient, by outcome (zapier.create.outcome).',
  },
  apiRequests: {
    name: 'zapier.api.requests',
    unit: '{request}',
    description:
      "Requests sent to Zapier's API, by kind (zapier.api.request) and status (http.response.status_code).",
  },
  rateLimited: {
    name: 'zapier.api.rate_limited',
    unit: '{response}',
    description: "429 answers from Zapier's API, by kind (zapier.api.request).",
  },
  deliveries: {
    name: 'zapier.deliveries',
    unit: '{delivery}',
    description: 'Event delivery attempts, by outcome (zapier.delivery.outcome) and event name.',
  },
  deliveryLatency: {
    name: 'zapier.delivery.latency',
    unit: 's',
    description: "From a run's result arriving (callback or poll) to its event being delivered.",
  },
  listenerDuration: {
    name: 'zapier.listener.duration',
    unit: 's',
    description: "How long an event's listeners took, by outcome and event name.",
  },
  prunes: {
    name: 'zapier.prunes',
    unit: '{row}',
    description: 'Rows removed by retention, by kind (zapier.prune.kind).',
  },
  pendingRuns: {
    name: 'zapier.runs.pending',
    unit: '{run}',
    description: 'Runs waiting for their result (all instances).',
  },
  overdueRuns: {
    name: 'zapier.runs.overdue',
    unit: '{run}',
    description:
      'Pending runs whose first poll came due, as the CLI and the health check count them (all instances).',
  },
  parkedRuns: {
    name: 'zapier.runs.parked',
    unit: '{run}',
    description:
      'Runs set aside until re-driven, by what parked them (zapier.run.parked_by: delivery | poll).',
  },
  budgetReserved: {
    name: 'zapier.budget.reserved',
    unit: '{request}',
    description: 'Send slots of the shared request budget reserved ahead of now (all instances).',
  },
  budgetCooldown: {
    name: 'zapier.budget.cooldown',
    unit: 's',
    description: 'What is left of a 429 cooldown of the shared request budget (0 when none).',
  },
} as const;

/** Names of the spans the module starts; each carries `zapier.run.id` once it is known. */
export const ZAPIER_SPANS = {
  callback: 'zapier.callback',
  poll: 'zapier.poll',
  create: 'zapier.create',
  delivery: 'zapier.delivery',
} as const;

/** Attribute keys. */
export const ZAPIER_ATTRIBUTES = {
  runId: 'zapier.run.id',
  callbackOutcome: 'zapier.callback.outcome',
  pollOutcome: 'zapier.poll.outcome',
  createOutcome: 'zapier.create.outcome',
  apiRequest: 'zapier.api.request',
  statusCode: 'http.response.status_code',
  deliveryOutcome: 'zapier.delivery.outcome',
  eventName: 'zapier.event.name',
  deliveryAttempt: 'zapier.delivery.attempt',
  parkedBy: 'zapier.run.parked_by',
  pruneKind: 'zapier.prune.kind',
} as const;

export type CallbackOutcome =
  'stored' | 'duplicate' | 'unauthorized' | 'invalid' | 'unavailable' | 'too_large';
export type PollOutcome =
  'completed' | 'pending' | 'parked' | 'not_found' | 'rate_limited' | 'failed';
export type CreateOutcome = 'created' | 'rate_limited' | 'failed';
export type DeliveryOutcome = 'delivered' | 'failed' | 'parked' | 'timed_out';
