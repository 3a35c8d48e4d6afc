import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeDependencies } from '../pruning';
import { tinyResNet } from '../pruning/test-models.fixture';
import {
  defaultLambda,
  groupShares,
  nextEffectiveThreshold,
  planAtThreshold,
} from './threshold-plan';

describe('threshold plan', () => {
  const model = tinyResNet();
  const a = analyzeDependencies(model.graph);
  // scores 1..n in class order, so every ratio is distinct
  const scores = new Map<number, number>();
  let k = 0;
  for (const g of a.groups) for (const c of g.channels) scores.set(c.id, ++k);
  const shares = groupShares(model, a, 'params');

  it('shares of the prunable groups sum to 1 and follow parameter counts', () => {
    const total = [...shares.values()].reduce((x, y) => x + y, 0);
    assert.ok(Math.abs(total - 1) < 1e-9);
    const prunable = a.groups.filter((g) => g.prunable).length;
    assert.equal(shares.size, prunable);
  });

  it('prunes score <= T * w_g per group and keeps minChannels', () => {
    const plan = planAtThreshold(a, scores, shares, 1e9, 2);
    for (const g of plan.groups) assert.equal(g.kept, Math.min(2, g.channels));
    const none = planAtThreshold(a, scores, shares, 0);
    assert.equal(none.removed.size, 0);
    const t = nextEffectiveThreshold(a, scores, shares);
    assert.equal(planAtThreshold(a, scores, shares, t * 0.999).removed.size, 0);
    assert.equal(planAtThreshold(a, scores, shares, t).removed.size, 1);
  });

  it('the default lambda prunes about 5% of the prunable channels in its first step', () => {
    const lambda = defaultLambda(a, scores, shares);
    const prunableChannels = a.groups
      .filter((g) => g.prunable)
      .reduce((n, g) => n + g.channels.length, 0);
    const removed = planAtThreshold(a, scores, shares, lambda).removed.size;
    assert.ok(
      removed >= 1 && removed <= Math.ceil(0.1 * prunableChannels) + 1,
      `${removed} of ${prunableChannels}`,
    );
  });
});
