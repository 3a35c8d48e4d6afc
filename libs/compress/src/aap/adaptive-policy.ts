/**
 * AAP's adaptive threshold policy as a pure state machine: `decide(state, outcome)` returns the
 * next state from one round's outcome, so it can be tested from a scripted accuracy sequence
 * without training anything.
 *
 * Round 0 is the unpruned baseline and sits at the bottom of `track` with T = T0. Round r >= 1
 * prunes with `state.threshold` starting from the model of round `state.startFrom`. Then:
 * - objective holds: push r on track, T += λ, failures reset.
 * - violated: restore the top of track b; failures k += 1; at the reset limit pop b, halve λ and
 *   retry T_b from b's model; otherwise λ = λ_b / 2^k and T = T_b + λ.
 * - stop when track is empty at a violation, λ falls under the floor, the round or wall-clock
 *   budget is spent, or a kept round reaches the target.
 */

export interface AdaptivePolicyConfig {
  /** T0: the threshold of the first pruning round. */
  initialThreshold: number;
  /** λ0: the first threshold step. */
  lambda: number;
  /** Consecutive failures from one kept round before it is popped (3 in the released code). */
  resetLimit: number;
  /** Stop once λ drops below this. */
  lambdaFloor: number;
  /** Pruning rounds to run at most (the baseline is not counted). */
  maxRounds: number;
  /** Wall-clock budget for the whole search, in ms (omit for none). */
  wallClockMs?: number;
}

export interface TrackEntry {
  round: number;
  threshold: number;
  lambda: number;
}

export type StopReason =
  'target-reached' | 'track-empty' | 'lambda-floor' | 'round-budget' | 'time-budget';

export interface PolicyState {
  /** The round to run next (1-based; round 0 is the baseline). */
  round: number;
  threshold: number;
  lambda: number;
  track: TrackEntry[];
  /** Failures since the top of track was kept. */
  failures: number;
  /** The round whose model the next round starts from. */
  startFrom: number;
  stopped: StopReason | null;
}

export interface RoundOutcome {
  /** The objective's accuracy guard held after fine-tuning. */
  feasible: boolean;
  /** The objective's target is reached (only meaningful when feasible). */
  targetReached: boolean;
  /** Milliseconds since the search started, from the caller's clock. */
  elapsedMs: number;
}

/** What the policy did with a round: recorded verbatim in the result's provenance. */
export interface PolicyDecision {
  round: number;
  threshold: number;
  lambda: number;
  verdict: 'kept' | 'rolled-back';
  /** Round restored after a violation. */
  restoredFrom?: number;
  /** Set when the restored round was popped from track (reset limit reached). */
  popped?: number;
  failures: number;
  nextThreshold: number;
  nextLambda: number;
  stop: StopReason | null;
}

export const DEFAULT_POLICY: AdaptivePolicyConfig = {
  initialThreshold: 0,
  lambda: 1,
  resetLimit: 3,
  lambdaFloor: 1e-6,
  maxRounds: 100,
};

export function validatePolicyConfig(config: AdaptivePolicyConfig): AdaptivePolicyConfig {
  const positive = (name: string, v: number): void => {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be > 0, got ${v}`);
  };
  positive('lambda', config.lambda);
  positive('lambdaFloor', config.lambdaFloor);
  if (!Number.isInteger(config.resetLimit) || config.resetLimit < 1) {
    throw new RangeError(`resetLimit must be an integer >= 1, got ${config.resetLimit}`);
  }
  if (!Number.isInteger(config.maxRounds) || config.maxRounds < 1) {
    throw new RangeError(`maxRounds must be an integer >= 1, got ${config.maxRounds}`);
  }
  if (!Number.isFinite(config.initialThreshold) || config.initialThreshold < 0) {
    throw new RangeError(`initialThreshold must be >= 0, got ${config.initialThreshold}`);
  }
  if (config.wallClockMs !== undefined && !(config.wallClockMs > 0)) {
    throw new RangeError(`wallClockMs must be > 0 when set, got ${config.wallClockMs}`);
  }
  return config;
}

export function initialPolicyState(config: AdaptivePolicyConfig): PolicyState {
  validatePolicyConfig(config);
  return {
    round: 1,
    threshold: config.initialThreshold,
    lambda: config.lambda,
    track: [{ round: 0, threshold: config.initialThreshold, lambda: config.lambda }],
    failures: 0,
    startFrom: 0,
    stopped: null,
  };
}

export function decide(
  state: PolicyState,
  outcome: RoundOutcome,
  config: AdaptivePolicyConfig,
): { state: PolicyState; decision: PolicyDecision } {
  if (state.stopped) throw new Error(`the policy already stopped (${state.stopped})`);
  const r = state.round;
  let next: PolicyState;
  let decision: Omit<PolicyDecision, 'stop' | 'nextThreshold' | 'nextLambda'>;

  if (outcome.feasible) {
    next = {
      round: r + 1,
      threshold: state.threshold + state.lambda,
      lambda: state.lambda,
      track: [...state.track, { round: r, threshold: state.threshold, lambda: state.lambda }],
      failures: 0,
      startFrom: r,
      stopped: outcome.targetReached ? 'target-reached' : null,
    };
    decision = {
      round: r,
      threshold: state.threshold,
      lambda: state.lambda,
      verdict: 'kept',
      failures: 0,
    };
  } else {
    const b = state.track[state.track.length - 1];
    if (!b) {
      next = { ...state, round: r + 1, stopped: 'track-empty' };
      decision = {
        round: r,
        threshold: state.threshold,
        lambda: state.lambda,
        verdict: 'rolled-back',
        failures: state.failures + 1,
      };
    } else {
      const k = state.failures + 1;
      if (k >= config.resetLimit) {
        next = {
          round: r + 1,
          threshold: b.threshold,
          lambda: state.lambda / 2,
          track: state.track.slice(0, -1),
          failures: 0,
          startFrom: b.round,
          stopped: null,
        };
        decision = {
          round: r,
          threshold: state.threshold,
          lambda: state.lambda,
          verdict: 'rolled-back',
          restoredFrom: b.round,
          popped: b.round,
          failures: k,
        };
      } else {
        const lambda = b.lambda / 2 ** k;
        next = {
          round: r + 1,
          threshold: b.threshold + lambda,
          lambda,
          track: state.track,
          failures: k,
          startFrom: b.round,
          stopped: null,
        };
        decision = {
          round: r,
          threshold: state.threshold,
          lambda: state.lambda,
          verdict: 'rolled-back',
          restoredFrom: b.round,
          failures: k,
        };
      }
    }
  }

  if (!next.stopped) {
    if (next.lambda < config.lambdaFloor) next.stopped = 'lambda-floor';
    else if (r >= config.maxRounds) next.stopped = 'round-budget';
    else if (config.wallClockMs !== undefined && outcome.elapsedMs >= config.wallClockMs) {
      next.stopped = 'time-budget';
    }
  }
  return {
    state: next,
    decision: {
      ...decision,
      nextThreshold: next.threshold,
      nextLambda: next.lambda,
      stop: next.stopped,
    },
  };
}

/** The round the search delivers: the top of track (the baseline when nothing was kept). */
export function lastKeptRound(state: PolicyState): number | null {
  return state.track[state.track.length - 1]?.round ?? null;
}
