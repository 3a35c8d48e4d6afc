/**
 * What a compression run must achieve. Shared by the API, the CLI and every method.
 *
 * Units (fixed here so every caller agrees):
 * - `maxAccuracyDrop` is in percentage points of top-1 accuracy (0.3 means 0.3 pt).
 * - `target` for params / flops / size is the fraction to REMOVE, in (0, 1): 0.8 = "remove >= 80%".
 * - `target` for latency is a p50 in milliseconds on `device`.
 * - `accuracy` has no target: it maximises the reduction while the drop stays within bounds.
 */
export type ObjectiveMetric = 'accuracy' | 'params' | 'flops' | 'size' | 'latency';
export type LatencySource = 'measured' | 'predicted' | 'local';

export interface Objective {
  metric: ObjectiveMetric;
  target?: number;
  maxAccuracyDrop: number;
  /** Device class (profile id) for latency; `local` means this machine. */
  device?: string;
  latencySource: LatencySource;
}

export const OBJECTIVE_METRICS: readonly ObjectiveMetric[] = [
  'accuracy',
  'params',
  'flops',
  'size',
  'latency',
];
export const LATENCY_SOURCES: readonly LatencySource[] = ['measured', 'predicted', 'local'];

/** A bad objective: the message says what is wrong and what would be accepted. */
export class ObjectiveError extends Error {
  override readonly name = 'ObjectiveError';
}

/** The figures of one model state that objectives are judged on. */
export interface ModelMetrics {
  /** Top-1 accuracy as a fraction in [0, 1]. */
  accuracy: number;
  params: number;
  flops: number;
  sizeBytes: number;
  /** p50 latency in ms on the objective's device; absent when the objective does not need it. */
  latencyMs?: number;
}

export interface ObjectiveVerdict {
  /** The accuracy guard holds: drop <= maxAccuracyDrop. */
  feasible: boolean;
  /** The target (params/flops/size/latency) is reached. Never true for `accuracy`. */
  targetReached: boolean;
  /** Accuracy drop against the baseline in percentage points (negative = improved). */
  dropPoints: number;
  /** Reduction of the objective's metric against the baseline (fraction removed; latency: 1 - ms/ms0). */
  reduction: number;
}

/** Checks an objective's shape and ranges. Device existence is checked by `assertDeviceKnown`. */
export function validateObjective(objective: Objective): Objective {
  const { metric, target, maxAccuracyDrop, latencySource, device } = objective;
  if (!OBJECTIVE_METRICS.includes(metric)) {
    throw new ObjectiveError(
      `unknown objective metric "${String(metric)}"; expected one of ${OBJECTIVE_METRICS.join(', ')}`,
    );
  }
  if (!Number.isFinite(maxAccuracyDrop) || maxAccuracyDrop < 0) {
    throw new ObjectiveError(
      `maxAccuracyDrop must be a finite number of percentage points >= 0, got ${maxAccuracyDrop}`,
    );
  }
  if (maxAccuracyDrop > 100) {
    throw new ObjectiveError(
      `maxAccuracyDrop is in percentage points (0..100), got ${maxAccuracyDrop}`,
    );
  }
  if (!LATENCY_SOURCES.includes(latencySource)) {
    throw new ObjectiveError(
      `unknown latency source "${String(latencySource)}"; expected one of ${LATENCY_SOURCES.join(', ')}`,
    );
  }
  if (metric === 'accuracy') {
    if (target !== undefined) {
      throw new ObjectiveError(
        'the accuracy objective takes no target: it maximises the reduction within maxAccuracyDrop',
      );
    }
    return objective;
  }
  if (target === undefined || !Number.isFinite(target)) {
    throw new ObjectiveError(`the ${metric} objective needs a finite target, got ${target}`);
  }
  if (metric === 'latency') {
    if (target <= 0) {
      throw new ObjectiveError(`latency target must be a positive number of ms, got ${target}`);
    }
    if (!device) {
      throw new ObjectiveError('the latency objective needs a device (a profile id, or "local")');
    }
    return objective;
  }
  if (target <= 0 || target >= 1) {
    throw new ObjectiveError(
      `${metric} target is the fraction to remove and must lie in (0, 1), got ${target}` +
        (target >= 1 && target < 100 ? ` (did you mean ${target / 100}?)` : ''),
    );
  }
  return objective;
}

/** Reduction of the objective's own metric (for accuracy: of the weighting metric, params by default). */
export function reductionOf(
  metric: ObjectiveMetric,
  baseline: ModelMetrics,
  current: ModelMetrics,
): number {
  const ratio = (now: number, base: number): number => (base > 0 ? 1 - now / base : 0);
  switch (metric) {
    case 'accuracy':
    case 'params':
      return ratio(current.params, baseline.params);
    case 'flops':
      return ratio(current.flops, baseline.flops);
    case 'size':
      return ratio(current.sizeBytes, baseline.sizeBytes);
    case 'latency':
      return current.latencyMs !== undefined && baseline.latencyMs !== undefined
        ? ratio(current.latencyMs, baseline.latencyMs)
        : 0;
  }
}

/** Judges one model state against the baseline. */
export function judge(
  objective: Objective,
  baseline: ModelMetrics,
  current: ModelMetrics,
): ObjectiveVerdict {
  // Accuracies are fractions; the guard is in points. Round to 1e-9 so 0.3 pt is not lost to float noise.
  const dropPoints = Math.round((baseline.accuracy - current.accuracy) * 100 * 1e9) / 1e9;
  const feasible = dropPoints <= objective.maxAccuracyDrop;
  const reduction = reductionOf(objective.metric, baseline, current);
  let targetReached = false;
  if (objective.metric === 'latency') {
    if (current.latencyMs === undefined) {
      throw new ObjectiveError('the latency objective needs a latency for every round');
    }
    targetReached = current.latencyMs <= (objective.target ?? 0);
  } else if (objective.metric !== 'accuracy') {
    targetReached = reduction >= (objective.target ?? Infinity);
  }
  return { feasible, targetReached, dropPoints, reduction };
}

/**
 * A target the unpruned model already meets would make the run a no-op that looks like a win:
 * refuse it up front.
 */
export function assertTargetNotMet(objective: Objective, baseline: ModelMetrics): void {
  if (objective.metric === 'latency' && baseline.latencyMs !== undefined) {
    if (baseline.latencyMs <= (objective.target ?? 0)) {
      throw new ObjectiveError(
        `latency target already met: the unpruned model runs at p50 ${baseline.latencyMs.toFixed(3)} ms ` +
          `<= ${objective.target} ms on ${objective.device}; pick a lower target`,
      );
    }
  }
}

/** A one-line human description, e.g. "params >= 80% removed, drop <= 0.3 pt". */
export function describeObjective(objective: Objective): string {
  const guard = `drop <= ${objective.maxAccuracyDrop} pt`;
  switch (objective.metric) {
    case 'accuracy':
      return `max reduction, ${guard}`;
    case 'latency':
      return `p50 <= ${objective.target} ms on ${objective.device} (${objective.latencySource}), ${guard}`;
    default:
      return `${objective.metric} >= ${((objective.target ?? 0) * 100).toFixed(1)}% removed, ${guard}`;
  }
}
