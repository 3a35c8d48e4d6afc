import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type AdaptivePolicyConfig,
  type PolicyDecision,
  type PolicyState,
  DEFAULT_POLICY,
  decide,
  initialPolicyState,
} from './adaptive-policy';
import { type RecordedCut, cutKey, findRepeatedCut } from './repeated-cuts';
import type { GroupPlan } from './threshold-plan';

const group = (name: string, channels: number, kept: number): GroupPlan => ({
  group: name,
  channels,
  kept,
  threshold: 0,
});

/**
 * A search on a scripted model family: from a model that has lost d channels, every threshold
 * removes exactly one more (what a cap or a channel multiple does to a cut), and the result is
 * feasible while at most `feasibleDepth` channels are gone. The policy is the real one; only
 * the training is scripted.
 */
function scriptedSearch(
  feasibleDepth: number,
  useRepeats: boolean,
  config: Partial<AdaptivePolicyConfig> = {},
): {
  stop: PolicyState['stopped'];
  rounds: number;
  trained: number;
  kept: RecordedCut[];
  trajectory: RecordedCut[];
} {
  const cfg = { ...DEFAULT_POLICY, lambdaFloor: 1 / 1024, maxRounds: 60, ...config };
  let state = initialPolicyState(cfg);
  const depth = new Map<number, number>([[0, 0]]);
  const trajectory: RecordedCut[] = [{ round: 0, startFrom: 0, groups: [], verdict: 'baseline' }];
  const decisions: PolicyDecision[] = [];
  let trained = 0;
  while (!state.stopped) {
    const d = depth.get(state.startFrom)!;
    const groups = [group('stage2', 16 - d, 16 - d - 1)];
    const repeated = useRepeats
      ? findRepeatedCut(trajectory, decisions, state.startFrom, groups)
      : undefined;
    if (!repeated) trained += 1;
    const feasible = d + 1 <= feasibleDepth;
    const step = decide(
      state,
      { feasible: feasible && !repeated?.deadEnd, targetReached: false, elapsedMs: 0 },
      cfg,
    );
    decisions.push(step.decision);
    trajectory.push({
      round: state.round,
      startFrom: state.startFrom,
      groups,
      verdict: step.decision.verdict,
      ...(repeated ? { repeatOf: repeated.original } : {}),
      ...(repeated?.deadEnd ? { deadEnd: true as const } : {}),
    });
    depth.set(state.round, d + 1);
    state = step.state;
  }
  return {
    stop: state.stopped,
    rounds: trajectory.length - 1,
    trained,
    kept: trajectory.filter((r) => r.verdict === 'kept'),
    trajectory,
  };
}

describe('AAP repeated cuts (scripted outcomes, no training)', () => {
  it('a cut key names the parent and the kept count of each shrunk group, in any order', () => {
    const a = cutKey(3, [group('b', 8, 4), group('a', 16, 16), group('c', 4, 2)]);
    assert.equal(a, '3|b:4,c:2');
    assert.equal(cutKey(3, [group('c', 4, 2), group('b', 8, 4)]), a);
    assert.notEqual(cutKey(4, [group('c', 4, 2), group('b', 8, 4)]), a);
    assert.notEqual(cutKey(3, [group('c', 4, 1), group('b', 8, 4)]), a);
  });

  it('finds a rolled-back cut from the same parent and reuses the first fine-tuned round', () => {
    const g = [group('s', 8, 6)];
    const trajectory: RecordedCut[] = [
      { round: 0, startFrom: 0, groups: [], verdict: 'baseline' },
      { round: 1, startFrom: 0, groups: g, verdict: 'rolled-back' },
      { round: 2, startFrom: 0, groups: g, verdict: 'rolled-back', repeatOf: 1 },
      { round: 3, startFrom: 0, groups: [group('s', 8, 7)], verdict: 'kept' },
    ];
    assert.deepEqual(findRepeatedCut(trajectory, [], 0, g), {
      original: 1,
      match: 1,
      deadEnd: false,
    });
    // a kept round is not a repeat while it is on the track, nor is another parent's cut
    assert.equal(findRepeatedCut(trajectory, [], 0, [group('s', 8, 7)]), undefined);
    assert.equal(findRepeatedCut(trajectory, [], 3, g), undefined);
  });

  it('a kept cut that the policy popped is a dead end when it is made again from its parent', () => {
    const g = [group('s', 8, 7)];
    const trajectory: RecordedCut[] = [
      { round: 0, startFrom: 0, groups: [], verdict: 'baseline' },
      { round: 1, startFrom: 0, groups: g, verdict: 'kept' },
    ];
    const popped = {
      round: 4,
      threshold: 1,
      lambda: 0.125,
      verdict: 'rolled-back',
      restoredFrom: 1,
      popped: 1,
      failures: 3,
      nextThreshold: 1,
      nextLambda: 0.0625,
      stop: null,
    } satisfies PolicyDecision;
    assert.deepEqual(findRepeatedCut(trajectory, [popped], 0, g), {
      original: 1,
      match: 1,
      deadEnd: true,
    });
    // a dead-end repeat stays one for the rounds after it, whatever the decisions say
    const repeat: RecordedCut = {
      round: 7,
      startFrom: 0,
      groups: g,
      verdict: 'rolled-back',
      repeatOf: 1,
      deadEnd: true,
    };
    assert.deepEqual(findRepeatedCut([trajectory[0]!, repeat], [], 0, g), {
      original: 1,
      match: 7,
      deadEnd: true,
    });
  });

  it('without the rule the released policy cycles through a popped cut until its budget; with it the search ends', () => {
    const cycling = scriptedSearch(2, false);
    assert.equal(cycling.stop, 'round-budget');
    assert.equal(cycling.trained, 60, 'every round of the budget fine-tuned');
    // the same depth-2 cut from round 1's family is kept again and again
    assert.ok(cycling.kept.length > 10, `kept ${cycling.kept.length}`);

    const ended = scriptedSearch(2, true);
    assert.equal(ended.stop, 'track-empty');
    // fine-tuned: the two feasible cuts and the first failure beyond them; every other round is
    // judged from those three
    assert.equal(ended.trained, 3);
    assert.deepEqual(
      ended.kept.map((r) => r.round),
      [1, 2],
    );
    const keys = ended.kept.map((r) => cutKey(r.startFrom, r.groups));
    assert.equal(new Set(keys).size, keys.length, 'no cut kept twice');
    for (const r of ended.trajectory.filter((x) => x.deadEnd)) {
      assert.equal(r.verdict, 'rolled-back');
      assert.ok(r.repeatOf === 1 || r.repeatOf === 2, `round ${r.round} repeats ${r.repeatOf}`);
    }
    assert.ok(ended.rounds < 25, `${ended.rounds} rounds`);
  });
});
