import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type AdaptivePolicyConfig,
  type PolicyDecision,
  DEFAULT_POLICY,
  decide,
  initialPolicyState,
  lastKeptRound,
} from './adaptive-policy';

/** Runs the policy over a scripted sequence of round outcomes ('ok', 'bad', 'hit' = ok + target). */
function script(
  outcomes: readonly ('ok' | 'bad' | 'hit')[],
  config: Partial<AdaptivePolicyConfig> = {},
  elapsed: readonly number[] = [],
): { decisions: PolicyDecision[]; track: number[] } {
  const cfg = { ...DEFAULT_POLICY, ...config };
  let state = initialPolicyState(cfg);
  const decisions: PolicyDecision[] = [];
  for (const [i, o] of outcomes.entries()) {
    if (state.stopped) break;
    const step = decide(
      state,
      { feasible: o !== 'bad', targetReached: o === 'hit', elapsedMs: elapsed[i] ?? 0 },
      cfg,
    );
    decisions.push(step.decision);
    state = step.state;
  }
  return { decisions, track: state.track.map((t) => t.round) };
}

const rows = (ds: PolicyDecision[]) =>
  ds.map((d) => [d.round, d.threshold, d.lambda, d.verdict, d.restoredFrom ?? '-', d.stop ?? '-']);

describe('AAP adaptive policy (scripted outcomes, no training)', () => {
  it('keeps feasible rounds and grows T by lambda each time', () => {
    const { decisions, track } = script(['ok', 'ok', 'ok'], { maxRounds: 3 });
    assert.deepEqual(rows(decisions), [
      [1, 0, 1, 'kept', '-', '-'],
      [2, 1, 1, 'kept', '-', '-'],
      [3, 2, 1, 'kept', '-', 'round-budget'],
    ]);
    assert.deepEqual(track, [0, 1, 2, 3]);
  });

  it('after a violation restores the top of track and retries with lambda_b / 2^k', () => {
    const { decisions } = script(['ok', 'ok', 'bad', 'bad', 'ok'], { lambda: 2 });
    assert.deepEqual(rows(decisions), [
      [1, 0, 2, 'kept', '-', '-'],
      [2, 2, 2, 'kept', '-', '-'],
      [3, 4, 2, 'rolled-back', 2, '-'],
      [4, 3, 1, 'rolled-back', 2, '-'], // T_b + 2/2
      [5, 2.5, 0.5, 'kept', '-', '-'], // T_b + 2/4
    ]);
    assert.equal(decisions[4]!.nextThreshold, 3);
    assert.equal(decisions[4]!.nextLambda, 0.5);
  });

  it('pops the kept round after 3 failures, halves lambda and retries its threshold', () => {
    const { decisions, track } = script(['ok', 'ok', 'bad', 'bad', 'bad', 'ok'], { lambda: 4 });
    assert.deepEqual(rows(decisions).slice(2), [
      [3, 8, 4, 'rolled-back', 2, '-'],
      [4, 6, 2, 'rolled-back', 2, '-'],
      [5, 5, 1, 'rolled-back', 2, '-'],
      [6, 4, 0.5, 'kept', '-', '-'], // T_b = 4 retried with lambda 1/2
    ]);
    assert.equal(decisions[4]!.popped, 2);
    assert.deepEqual(track, [0, 1, 6]);
  });

  it('stops with track-empty when every round fails down to the baseline', () => {
    const { decisions, track } = script(Array(10).fill('bad'), { lambda: 1 });
    // three failures from the baseline pop it; the next failure finds nothing to restore.
    assert.deepEqual(
      decisions.map((d) => d.verdict + ':' + (d.stop ?? '-')),
      ['rolled-back:-', 'rolled-back:-', 'rolled-back:-', 'rolled-back:track-empty'],
    );
    assert.deepEqual(track, []);
  });

  it('stops when the target is reached on a kept round', () => {
    const { decisions, track } = script(['ok', 'ok', 'hit', 'ok']);
    assert.equal(decisions.length, 3);
    assert.equal(decisions[2]!.stop, 'target-reached');
    assert.deepEqual(track, [0, 1, 2, 3]);
  });

  it('a target reached on an infeasible round is not a stop', () => {
    const cfg = { ...DEFAULT_POLICY };
    const s = decide(
      initialPolicyState(cfg),
      { feasible: false, targetReached: true, elapsedMs: 0 },
      cfg,
    );
    assert.equal(s.state.stopped, null);
    assert.equal(s.decision.verdict, 'rolled-back');
  });

  it('stops at the lambda floor', () => {
    const { decisions } = script(['ok', 'bad', 'bad'], { lambda: 1, lambdaFloor: 0.3 });
    assert.deepEqual(rows(decisions), [
      [1, 0, 1, 'kept', '-', '-'],
      [2, 1, 1, 'rolled-back', 1, '-'],
      [3, 0.5, 0.5, 'rolled-back', 1, 'lambda-floor'], // next lambda 0.25 < 0.3
    ]);
  });

  it('stops when the wall-clock budget is spent, after recording the round', () => {
    const { decisions, track } = script(
      ['ok', 'ok', 'ok'],
      { wallClockMs: 1000 },
      [100, 1000, 2000],
    );
    assert.equal(decisions.length, 2);
    assert.equal(decisions[1]!.stop, 'time-budget');
    assert.deepEqual(track, [0, 1, 2]);
  });

  it('the delivered round is the top of track', () => {
    const cfg = { ...DEFAULT_POLICY, maxRounds: 3 };
    let state = initialPolicyState(cfg);
    for (const feasible of [true, true, false]) {
      state = decide(state, { feasible, targetReached: false, elapsedMs: 0 }, cfg).state;
    }
    assert.equal(lastKeptRound(state), 2);
    assert.equal(state.stopped, 'round-budget');
  });

  it('rejects bad configurations and deciding after a stop', () => {
    assert.throws(() => initialPolicyState({ ...DEFAULT_POLICY, lambda: 0 }), /lambda must be > 0/);
    assert.throws(() => initialPolicyState({ ...DEFAULT_POLICY, resetLimit: 0 }), /resetLimit/);
    assert.throws(() => initialPolicyState({ ...DEFAULT_POLICY, maxRounds: 1.5 }), /maxRounds/);
    const cfg = { ...DEFAULT_POLICY, maxRounds: 1 };
    const { state } = decide(
      initialPolicyState(cfg),
      { feasible: true, targetReached: false, elapsedMs: 0 },
      cfg,
    );
    assert.throws(
      () => decide(state, { feasible: true, targetReached: false, elapsedMs: 0 }, cfg),
      /already stopped \(round-budget\)/,
    );
  });
});
