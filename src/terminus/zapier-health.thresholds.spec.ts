import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierHealthReport } from '../health/zapier-health.probe.js';
import { healthProblems } from './zapier-health.thresholds.js';

const healthy: ZapierHealthReport = {
  database: { reachable: true, error: null },
  jwks: { keys: 2, ageMs: 90_000, error: null },
  runs: { overdue: 3, oldestOverdueAgeMs: 600_000, parked: 2, deliveryBacklog: 40 },
  cooldownRemainingMs: 12_000,
};

describe('healthProblems', () => {
  it('finds none without thresholds, whatever the runs and the cooldown', () => {
    assert.deepEqual(healthProblems(healthy, {}), []);
  });

  it('finds none at the thresholds, one past each', () => {
    const at = {
      maxOverdueAgeMs: 600_000,
      maxParkedRuns: 2,
      maxDeliveryBacklog: 40,
      maxKeyAgeMs: 90_000,
    };
    assert.deepEqual(healthProblems(healthy, at), []);
    assert.deepEqual(
      healthProblems(healthy, {
        maxOverdueAgeMs: 599_999,
        maxParkedRuns: 1,
        maxDeliveryBacklog: 39,
        maxKeyAgeMs: 89_999,
        downDuringCooldown: true,
      }),
      [
        ZapierMessages.healthKeysOld(90_000, 89_999),
        ZapierMessages.healthOverdue(3, 600_000, 599_999),
        ZapierMessages.healthParked(2, 1),
        ZapierMessages.healthBacklog(40, 39),
        ZapierMessages.healthCooldown(12_000),
      ],
    );
  });

  it('is always down without the database or without a key, thresholds or not', () => {
    const down: ZapierHealthReport = {
      database: { reachable: false, error: 'connect ECONNREFUSED' },
      jwks: { keys: 0, ageMs: null, error: 'the JWKS endpoint answered HTTP 503' },
      runs: null,
      cooldownRemainingMs: null,
    };
    assert.deepEqual(healthProblems(down, { downDuringCooldown: true, maxParkedRuns: 0 }), [
      ZapierMessages.healthDatabaseUnreachable('connect ECONNREFUSED'),
      ZapierMessages.healthNoKeys('the JWKS endpoint answered HTTP 503'),
    ]);
  });

  it('judges the age of keys only while some are loaded', () => {
    const stale = { ...healthy, jwks: { keys: 1, ageMs: 7_200_000, error: 'timed out' } };
    assert.deepEqual(healthProblems(stale, { maxKeyAgeMs: 3_600_000 }), [
      ZapierMessages.healthKeysOld(7_200_000, 3_600_000),
    ]);
  });
});
