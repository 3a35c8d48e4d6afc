import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dominates, paretoFront, type ParetoPoint } from './pareto-front';

const point = (
  variantId: string,
  accuracy: number | null,
  p50Ms: number | null,
  bytes: number,
): ParetoPoint => ({
  variantId,
  accuracy,
  p50Ms,
  bytes,
  latencySource: p50Ms === null ? null : 'measured',
  params: null,
  flops: null,
  method: 'aap',
});

describe('pareto front over accuracy, p50 and size', () => {
  it('keeps the trade-offs and drops what is worse on every axis', () => {
    const points = [
      point('base', 0.99, 4.0, 400),
      point('r1', 0.985, 3.0, 300),
      point('r2', 0.97, 2.0, 200),
      point('worse', 0.96, 3.5, 350), // r1 is more accurate, faster and smaller
      point('same-as-r2-but-bigger', 0.97, 2.0, 250),
    ];
    assert.deepEqual(paretoFront(points), ['base', 'r1', 'r2']);
  });

  it('equal points do not dominate each other; a known latency is never beaten by an unknown one', () => {
    const a = point('a', 0.9, 1, 100);
    assert.equal(dominates(a, { ...a, variantId: 'b' }), false);
    const unknown = point('u', 0.95, null, 50);
    const known = point('k', 0.9, 1, 100);
    assert.equal(dominates(unknown, known), false);
    assert.equal(dominates(known, unknown), false);
    assert.deepEqual(paretoFront([unknown, known]), ['u', 'k']);
  });

  it('a point without accuracy dominates nothing', () => {
    assert.equal(dominates(point('x', null, 0.1, 1), point('y', 0.5, 9, 900)), false);
    assert.deepEqual(paretoFront([point('x', null, 0.1, 1), point('y', 0.5, 9, 900)]), ['x', 'y']);
  });
});
