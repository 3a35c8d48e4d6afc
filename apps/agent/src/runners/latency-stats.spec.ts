import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { percentile, summarizeLatencies } from './latency-stats';

describe('latency-stats', () => {
  it('uses nearest rank: p50 of 1..100 is 50, p90 is 90, p99 is 99', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    const s = summarizeLatencies(samples);
    assert.deepEqual(
      { p50: s.p50, p90: s.p90, p99: s.p99, min: s.min, max: s.max, mean: s.mean },
      { p50: 50, p90: 90, p99: 99, min: 1, max: 100, mean: 50.5 },
    );
  });

  it('handles a single sample and refuses none', () => {
    assert.deepEqual(summarizeLatencies([3.5]), {
      p50: 3.5,
      p90: 3.5,
      p99: 3.5,
      mean: 3.5,
      min: 3.5,
      max: 3.5,
    });
    assert.throws(() => percentile([], 50), /no samples/);
  });
});
