import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../common/domain-errors';
import { nextRetryAt, planWaves } from './rollout-plan';

const fleet = (n: number) => Array.from({ length: n }, (_, i) => `d${String(i).padStart(3, '0')}`);
const sizes = (ids: string[], strategy: Parameters<typeof planWaves>[1]) =>
  planWaves(ids, strategy).map((w) => [w.label, w.deviceIds.length]);

describe('rollout wave planning', () => {
  it('puts a canary of n devices first, then cumulative percentages of the whole fleet', () => {
    assert.deepEqual(
      sizes(fleet(100), { canary: { devices: 2 }, waves: [10, 50, 100], soakMs: 0 }),
      [
        ['canary', 2],
        ['wave 1', 8],
        ['wave 2', 40],
        ['wave 3', 50],
      ],
    );
  });

  it('sizes a percent canary by rounding up, at least one device', () => {
    assert.deepEqual(sizes(fleet(10), { canary: { percent: 5 }, waves: [100], soakMs: 0 }), [
      ['canary', 1],
      ['wave 1', 9],
    ]);
    assert.deepEqual(sizes(fleet(1000), { canary: { percent: 0.5 }, waves: [100], soakMs: 0 })[0], [
      'canary',
      5,
    ]);
  });

  it('assigns every device exactly once, in the given order, and leaves a wave empty when rounding filled it already', () => {
    const ids = fleet(3);
    const waves = planWaves(ids, { canary: { devices: 2 }, waves: [50, 100], soakMs: 0 });
    assert.deepEqual(
      waves.map((w) => w.deviceIds),
      [['d000', 'd001'], [], ['d002']],
    );
    assert.deepEqual(
      waves.flatMap((w) => w.deviceIds),
      ids,
    );
  });

  it('caps the canary at the fleet size', () => {
    assert.deepEqual(sizes(fleet(2), { canary: { devices: 5 }, waves: [100], soakMs: 0 }), [
      ['canary', 2],
      ['wave 1', 0],
    ]);
  });

  it('refuses waves that do not end at 100, do not increase, or a canary with both or neither size', () => {
    const bad: [Parameters<typeof planWaves>[1], RegExp][] = [
      [{ waves: [], soakMs: 0 }, /at least one/],
      [{ waves: [10, 50], soakMs: 0 }, /last .* must be 100/],
      [{ waves: [50, 50, 100], soakMs: 0 }, /strictly increasing/],
      [{ waves: [0, 100], soakMs: 0 }, /\(0, 100\]/],
      [{ waves: [150], soakMs: 0 }, /\(0, 100\]/],
      [{ canary: { devices: 1, percent: 5 }, waves: [100], soakMs: 0 }, /not both/],
      [{ canary: {}, waves: [100], soakMs: 0 }, /needs devices or percent/],
      [{ waves: [100], soakMs: 0, retries: -1 }, /retries must be an integer in \[0, 10\]/],
      [{ waves: [100], soakMs: 0, retries: 1.5 }, /retries must be an integer/],
      [{ waves: [100], soakMs: 0, retryBackoffMs: -5 }, /retryBackoffMs must be/],
    ];
    for (const [strategy, message] of bad) {
      assert.throws(
        () => planWaves(fleet(4), strategy),
        (err: unknown) =>
          err instanceof DomainError && err.kind === 'invalid' && message.test(err.message),
        JSON.stringify(strategy),
      );
    }
  });

  it('backs retries off exponentially and stops after the allowed number', () => {
    const strategy = { waves: [100], soakMs: 0, retries: 3, retryBackoffMs: 1000 };
    assert.deepEqual(
      [0, 1, 2, 3].map((n) => nextRetryAt(strategy, n, 10_000)),
      [11_000, 12_000, 14_000, null],
    );
    // defaults: two retries, 5 s then 10 s
    assert.deepEqual(
      [0, 1, 2].map((n) => nextRetryAt({ waves: [100], soakMs: 0 }, n, 0)),
      [5_000, 10_000, null],
    );
    assert.equal(nextRetryAt({ waves: [100], soakMs: 0, retries: 0 }, 0, 0), null);
  });
});
