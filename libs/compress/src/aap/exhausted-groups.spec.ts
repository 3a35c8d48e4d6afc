import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeDependencies } from '../pruning';
import { tinyVgg } from '../pruning/test-models.fixture';
import { type JudgedCut, exhaustedGroups, withoutGroups } from './exhausted-groups';
import { nextEffectiveThreshold, planAtThreshold, smallestCut } from './threshold-plan';

const cut = (
  round: number,
  startFrom: number,
  groups: [string, number, number][],
  feasible: boolean,
  verdict: JudgedCut['verdict'] = feasible ? 'kept' : 'rolled-back',
): JudgedCut => ({
  round,
  startFrom,
  groups: groups.map(([group, channels, kept]) => ({ group, channels, kept, threshold: 0 })),
  feasible,
  verdict,
});

describe('AAP exhausted groups', () => {
  it('the smallest cut follows the channel multiple, the minimum kept and the cap', () => {
    assert.equal(smallestCut(16), 1);
    assert.equal(smallestCut(16, { multiple: 8 }), 8);
    assert.equal(smallestCut(10, { multiple: 8 }), 2, '10 -> 8 keeps a multiple');
    assert.equal(smallestCut(8, { multiple: 8 }), 0, 'one block left: nothing to give');
    assert.equal(smallestCut(1), 0);
    assert.equal(smallestCut(4, { minChannels: 4 }), 0);
  });

  it('a failed smallest cut of one group exhausts that group for its parent and descendants', () => {
    const trajectory = [
      cut(0, 0, [], true, 'baseline'),
      cut(1, 0, [['c1', 16, 8]], true), // kept
      cut(2, 1, [['c1', 8, 7]], false), // smallest cut of c1 from round 1: failed
      cut(3, 1, [['c2', 32, 30]], false), // two channels: a smaller cut may pass
      cut(
        4,
        1,
        [
          ['c3', 16, 14],
          ['c4', 16, 15],
        ],
        false,
      ), // c3 lost two: no rule
      cut(5, 1, [['c5', 16, 15]], true, 'rolled-back'), // a dead end: its accuracy held
      cut(6, 1, [['c2', 32, 31]], true), // kept: a descendant of round 1
      cut(7, 6, [['c6', 16, 15]], false), // smallest cut of c6 from round 6
      cut(8, 0, [['c7', 16, 15]], false), // from round 0, every model's ancestor
    ];
    assert.deepEqual([...exhaustedGroups(trajectory, 1, {})].sort(), ['c1', 'c7']);
    assert.deepEqual([...exhaustedGroups(trajectory, 6, {})].sort(), ['c1', 'c6', 'c7']);
    assert.deepEqual([...exhaustedGroups(trajectory, 0, {})], ['c7'], 'not from descendants');
    // under a multiple of 8, the 8-channel cut of 16 is the smallest: exhausted from round 0
    const blocked = [cut(1, 0, [['c1', 16, 8]], false)];
    assert.deepEqual([...exhaustedGroups(blocked, 0, { multiple: 8 })], ['c1']);
    assert.deepEqual([...exhaustedGroups(blocked, 0, {})], [], 'at multiple 1 it was not');
  });

  it('groups that failed together at their smallest cuts are tried one at a time', () => {
    const together = cut(
      4,
      3,
      [
        ['c1', 16, 15],
        ['c2', 16, 15],
        ['c3', 16, 15],
      ],
      false,
    );
    // first c1 alone: c2 and c3 left whole
    assert.deepEqual([...exhaustedGroups([together], 3, {})].sort(), ['c2', 'c3']);
    // c1 alone failed too: now c2 alone, c1 exhausted, c3 still left whole
    const c1Alone = cut(5, 3, [['c1', 16, 15]], false);
    assert.deepEqual([...exhaustedGroups([together, c1Alone], 3, {})].sort(), ['c1', 'c3']);
    // a cut of c1 and c2 that took more than one channel of c2 can still shrink: no rule
    const wider = cut(
      4,
      3,
      [
        ['c1', 16, 15],
        ['c2', 16, 14],
      ],
      false,
    );
    assert.deepEqual([...exhaustedGroups([wider], 3, {})], []);
  });

  it('a plan without the exhausted group reaches the next group instead of remaking the cut', () => {
    const analysis = analyzeDependencies(tinyVgg().graph);
    const prunable = analysis.groups.flatMap((g, gi) => (g.prunable ? [gi] : []));
    assert.ok(prunable.length >= 2, 'tiny VGG has two prunable conv groups');
    const [first, second] = prunable as [number, number];
    // equal shares; the first group's channels score lowest, so every threshold cuts it first
    const shares = new Map(prunable.map((gi) => [gi, 1 / prunable.length]));
    const scores = new Map<number, number>();
    analysis.groups.forEach((g, gi) =>
      g.channels.forEach((c, i) => scores.set(c.id, (gi === first ? 0.01 : 0.1) * (i + 1))),
    );
    const t = nextEffectiveThreshold(analysis, scores, shares);
    const plan = planAtThreshold(analysis, scores, shares, t);
    const firstId = analysis.groups[first]!.id;
    assert.deepEqual(
      plan.groups.filter((g) => g.kept < g.channels).map((g) => g.group),
      [firstId],
    );
    const without = withoutGroups(shares, analysis, new Set([firstId]));
    const t2 = nextEffectiveThreshold(analysis, scores, without);
    assert.ok(t2 > t, 'the next cut needs a higher threshold');
    const next = planAtThreshold(analysis, scores, without, t2);
    assert.deepEqual(
      next.groups.filter((g) => g.kept < g.channels).map((g) => g.group),
      [analysis.groups[second]!.id],
    );
  });
});
