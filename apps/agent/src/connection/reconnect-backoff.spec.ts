import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reconnectDelayMs } from './reconnect-backoff';

describe('reconnectDelayMs', () => {
  const options = { minMs: 1000, maxMs: 30_000 };
  it('doubles the ceiling per attempt up to the cap', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 10].map((a) => reconnectDelayMs(a, options, () => 1)),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000],
    );
  });
  it('jitters uniformly below the ceiling but never under half the minimum', () => {
    assert.equal(
      reconnectDelayMs(3, options, () => 0.25),
      2000,
    );
    assert.equal(
      reconnectDelayMs(3, options, () => 0),
      500,
    );
  });
});
