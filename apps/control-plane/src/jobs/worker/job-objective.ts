/**
 * How a job judges its models against its objective: whether one pipeline step's output may
 * replace its input, and whether the job's result meets the objective. Accuracies are test
 * accuracies (fractions) and drops are in percentage points against the job's base model.
 */
import type { JobObjective, JobObjectiveOutcome } from '../job.types';

export interface JobMetrics {
  accuracy: number;
  params: number;
  flops: number;
  bytes: number;
  latencyMs: number | null;
}

export interface StepDecision {
  keep: boolean;
  why: string;
}

const ms = (v: number): string => `${v.toFixed(3)} ms`;
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;

function dropPoints(baseline: JobMetrics, m: JobMetrics): number {
  return Math.round((baseline.accuracy - m.accuracy) * 100 * 1e6) / 1e6;
}

/** The figure the objective minimises, and how to name it; null when it was not measured. */
function objectiveValue(
  objective: JobObjective,
  m: JobMetrics,
): { value: number | null; label: (v: number) => string } {
  switch (objective.metric) {
    case 'latency':
      return { value: m.latencyMs, label: (v) => `p50 ${ms(v)}` };
    case 'flops':
      return { value: m.flops, label: (v) => `${v} FLOPs` };
    case 'size':
      return { value: m.bytes, label: (v) => `${v} bytes` };
    case 'params':
    case 'accuracy':
      // The accuracy objective maximises the parameter reduction within its accuracy budget.
      return { value: m.params, label: (v) => `${v} params` };
  }
}

/**
 * A step's output replaces its input only if it keeps within the accuracy budget and is at least
 * as good on the objective's metric; otherwise the input carries on.
 */
export function judgeStep(
  objective: JobObjective,
  baseline: JobMetrics,
  input: JobMetrics,
  output: JobMetrics,
): StepDecision {
  const drop = dropPoints(baseline, output);
  if (drop > objective.maxAccuracyDrop) {
    return {
      keep: false,
      why: `accuracy drop ${drop.toFixed(2)} pt exceeds the ${objective.maxAccuracyDrop} pt budget`,
    };
  }
  const before = objectiveValue(objective, input);
  const after = objectiveValue(objective, output);
  if (before.value === null || after.value === null) {
    return { keep: true, why: `kept: no ${objective.metric} figure to compare with its input` };
  }
  if (after.value > before.value) {
    return {
      keep: false,
      why: `${after.label(after.value)} is worse than its input's ${before.label(before.value)}`,
    };
  }
  return {
    keep: true,
    why: `${after.label(after.value)} (input ${before.label(before.value)}), drop ${drop.toFixed(2)} pt`,
  };
}

/** Whether the job's result meets the objective, and why (or why not). */
export function judgeResult(
  objective: JobObjective,
  baseline: JobMetrics,
  result: JobMetrics,
): JobObjectiveOutcome {
  const drop = dropPoints(baseline, result);
  const feasible = drop <= objective.maxAccuracyDrop;
  const budget = `accuracy drop ${drop.toFixed(2)} pt (budget ${objective.maxAccuracyDrop} pt)`;
  if (!feasible) return { met: false, feasible, note: `${budget} exceeds the budget` };
  const target = objective.target;
  if (objective.metric === 'accuracy' || target === undefined) {
    return { met: true, feasible, note: budget };
  }
  if (objective.metric === 'latency') {
    if (result.latencyMs === null) {
      return { met: false, feasible, note: `no latency was measured for the result; ${budget}` };
    }
    const base = baseline.latencyMs !== null ? ` (baseline ${ms(baseline.latencyMs)})` : '';
    const met = result.latencyMs <= target;
    return {
      met,
      feasible,
      note:
        `p50 ${ms(result.latencyMs)}${base} ${met ? 'meets' : 'misses'} the ${ms(target)} target; ` +
        budget,
    };
  }
  const { value } = objectiveValue(objective, result);
  const { value: base } = objectiveValue(objective, baseline);
  const reduction = base && value !== null ? 1 - value / base : 0;
  const met = reduction >= target;
  return {
    met,
    feasible,
    note:
      `${objective.metric} reduced by ${pct(reduction)}, ${met ? 'meets' : 'misses'} the ` +
      `${pct(target)} target; ${budget}`,
  };
}
