import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeDependencies } from '../pruning';
import { tinyResNet } from '../pruning/test-models.fixture';
import {
  defaultLambda,
  groupShares,
  nextEffectiveThreshold,
  planAtThreshold,
  validateChannelRule,
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
    const plan = planAtThreshold(a, scores, shares, 1e9, { minChannels: 2 });
    for (const g of plan.groups) assert.equal(g.kept, Math.min(2, g.channels));
    const none = planAtThreshold(a, scores, shares, 0);
    assert.equal(none.removed.size, 0);
    const t = nextEffectiveThreshold(a, scores, shares);
    assert.equal(planAtThreshold(a, scores, shares, t * 0.999).removed.size, 0);
    assert.equal(planAtThreshold(a, scores, shares, t).removed.size, 1);
  });

  it('with a channel multiple every group keeps a multiple of it (or all it has), and the next effective threshold removes a whole block', () => {
    const multiple = 4;
    const rule = { multiple };
    const prunable = a.groups.filter((g) => g.prunable);
    assert.ok(
      prunable.some((g) => g.channels.length > multiple),
      'the fixture has a group larger than one block',
    );
    for (const t of [0, 0.5, 1, 2, 4, 8, 16, 64, 1e9].map(
      (f) => f * nextEffectiveThreshold(a, scores, shares),
    )) {
      const plain = planAtThreshold(a, scores, shares, t);
      const rounded = planAtThreshold(a, scores, shares, t, rule);
      rounded.groups.forEach((g, i) => {
        assert.ok(
          g.kept === g.channels || g.kept % multiple === 0,
          `group ${g.group}: kept ${g.kept} of ${g.channels} at T=${t}`,
        );
        // rounding only ever keeps more, and never more than one block beyond the plain plan
        assert.ok(g.kept >= plain.groups[i]!.kept && g.kept - plain.groups[i]!.kept < multiple);
      });
      // the channels that go are the lowest-scored of what the plain plan removes
      for (const id of rounded.removed) assert.ok(plain.removed.has(id));
    }
    const t = nextEffectiveThreshold(a, scores, shares, rule);
    assert.ok(Number.isFinite(t));
    assert.equal(planAtThreshold(a, scores, shares, t * 0.999, rule).removed.size, 0);
    const first = planAtThreshold(a, scores, shares, t, rule);
    assert.ok(first.removed.size > 0);
    for (const g of first.groups) assert.ok(g.kept === g.channels || g.kept % multiple === 0);
    // a group of one block or less can never lose a channel
    const huge = planAtThreshold(a, scores, shares, 1e12, { multiple: 1024 });
    assert.equal(huge.removed.size, 0);
    assert.equal(nextEffectiveThreshold(a, scores, shares, { multiple: 1024 }), Infinity);
    assert.throws(() => validateChannelRule({ multiple: 0 }), /integer >= 1, got 0/);
    assert.throws(() => validateChannelRule({ multiple: 2.5 }), /integer >= 1/);
  });

  it('a cut cap bounds what one plan takes from each group, keeps the lowest-scored channels going first, and lets every group lose at least one', () => {
    const huge = 1e12; // past every score: without a cap each group falls to one channel
    const uncapped = planAtThreshold(a, scores, shares, huge);
    for (const g of uncapped.groups) assert.equal(g.kept, 1);
    const half = planAtThreshold(a, scores, shares, huge, { maxCutFraction: 0.5 });
    half.groups.forEach((g) => {
      assert.equal(g.channels - g.kept, Math.max(1, Math.floor(g.channels / 2)), g.group);
    });
    for (const id of half.removed) assert.ok(uncapped.removed.has(id));
    // within a group, the removed channels are its lowest-scored ones
    for (const group of a.groups.filter((x) => x.prunable)) {
      const ranked = group.channels
        .map((c) => c.id)
        .sort((x, y) => scores.get(x)! - scores.get(y)!);
      const gone = ranked.filter((id) => half.removed.has(id)).length;
      assert.deepEqual(
        ranked.slice(0, gone).every((id) => half.removed.has(id)),
        true,
        `group ${group.id}`,
      );
    }
    // a tiny cap still lets a group lose one channel, and the first effective threshold is unchanged
    const tiny = planAtThreshold(a, scores, shares, huge, { maxCutFraction: 0.01 });
    for (const g of tiny.groups) assert.equal(g.channels - g.kept, g.channels > 1 ? 1 : 0);
    assert.equal(
      nextEffectiveThreshold(a, scores, shares, { maxCutFraction: 0.01 }),
      nextEffectiveThreshold(a, scores, shares),
    );
    // below the cap the plan is the uncapped one
    const t = nextEffectiveThreshold(a, scores, shares);
    assert.deepEqual(
      [...planAtThreshold(a, scores, shares, t, { maxCutFraction: 0.5 }).removed],
      [...planAtThreshold(a, scores, shares, t).removed],
    );
    assert.throws(() => validateChannelRule({ maxCutFraction: 0 }), /\(0, 1\], got 0/);
    assert.throws(() => validateChannelRule({ maxCutFraction: 1.5 }), /\(0, 1\], got 1.5/);
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
