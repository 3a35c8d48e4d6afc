import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deviceViolation, failureRateViolation } from './abort-rules';

const m = { p50Ms: 6, p99Ms: 9, previousP50Ms: 5, agreement: 0.97 };

describe('rollout abort rules', () => {
  it('passes a device within every rule and when no rule is set', () => {
    assert.equal(deviceViolation({}, m), null);
    assert.equal(
      deviceViolation({ maxLatencyRegression: 1.2, p99CeilingMs: 9, minAgreement: 0.97 }, m),
      null,
    );
  });

  it('names the p50 regression against the previous variant on the same device', () => {
    assert.equal(
      deviceViolation({ maxLatencyRegression: 1.1 }, m),
      "p50 6.00 ms is 1.20x the previous variant's 5.00 ms (limit 1.1x)",
    );
  });

  it('cannot judge a regression without a previous p50', () => {
    assert.equal(
      deviceViolation({ maxLatencyRegression: 1.01 }, { ...m, previousP50Ms: null }),
      null,
    );
    assert.equal(deviceViolation({ maxLatencyRegression: 1.01 }, { ...m, previousP50Ms: 0 }), null);
  });

  it('names a p99 above the ceiling and agreement below the floor', () => {
    assert.equal(
      deviceViolation({ p99CeilingMs: 8.5 }, m),
      'p99 9.00 ms is above the ceiling of 8.5 ms',
    );
    assert.equal(
      deviceViolation({ minAgreement: 0.98 }, m),
      'agreement with the previous variant 97.0% is below 98.0%',
    );
    assert.equal(deviceViolation({ minAgreement: 0.98 }, { ...m, agreement: null }), null);
  });

  it('judges the failure rate only once minDevices have finished (skipped devices do not count)', () => {
    const rules = { maxFailureRate: 0.2, minDevices: 5 };
    assert.equal(failureRateViolation(rules, { failed: 4, succeeded: 0 }), null);
    assert.equal(
      failureRateViolation(rules, { failed: 2, succeeded: 3 }),
      '2 of 5 devices failed (40.0%, limit 20.0% over at least 5)',
    );
    assert.equal(failureRateViolation(rules, { failed: 2, succeeded: 8 }), null);
    assert.equal(failureRateViolation(rules, { failed: 3, succeeded: 8 }) !== null, true);
  });

  it('aborts at the first failure by default', () => {
    assert.equal(failureRateViolation({}, { failed: 0, succeeded: 10 }), null);
    assert.match(
      failureRateViolation({}, { failed: 1, succeeded: 10 })!,
      /^1 of 11 devices failed/,
    );
  });
});
