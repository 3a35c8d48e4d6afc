import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregateDeviceP50s, median } from './latency-aggregate';

describe('latency aggregation', () => {
  it('takes the median of odd and even counts', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it('keeps the spread and is not moved by one outlier device', () => {
    assert.deepEqual(aggregateDeviceP50s([2.1, 2.3, 40]), {
      p50Ms: 2.3,
      spreadMs: { min: 2.1, max: 40 },
    });
    assert.throws(() => aggregateDeviceP50s([]), /no device latencies/);
  });
});
