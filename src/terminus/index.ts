export { ZapierHealthIndicator } from './zapier-health.indicator.js';
export type { ZapierHealthDetails } from './zapier-health.indicator.js';
export type { ZapierHealthThresholds } from './zapier-health.thresholds.js';
export type { ZapierHealthReport } from '../health/zapier-health.probe.js';
