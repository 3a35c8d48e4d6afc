/**
 * The shapes a compression job is described and reported in: the request as stored (JobSpec),
 * the view the REST API and the event stream return (JobView), and one record per round.
 */
import type { DeviceSelector } from '../devices/device-selector';

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINISHED_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

/** Methods a job can chain; AAP then SQAKD on its result. */
export const JOB_METHODS = ['aap', 'sqakd'] as const;
export type JobMethod = (typeof JOB_METHODS)[number];

export type JobDatasetName = 'mnist' | 'fashion-mnist' | 'synthetic';

export interface AapJobOptions {
  maxRounds?: number;
  /** Fine-tuning per round: steps, or epochs when steps is not given (default 1 epoch). */
  steps?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  lambda?: number;
  validationCount?: number;
  calibrationBatches?: number;
  minChannels?: number;
  channelMultiple?: number;
  wallClockMs?: number;
  seed?: number;
}

export interface SqakdJobOptions {
  /** e.g. "w4a8". */
  bits?: string;
  quantizer?: 'learned-interval' | 'lsq' | 'pact' | 'dorefa';
  epochs?: number;
  stepsPerEpoch?: number;
  batchSize?: number;
  loss?: 'kd' | 'ce' | 'ce+kd';
  evalLimit?: number;
  seed?: number;
}

export interface JobObjective {
  metric: 'accuracy' | 'params' | 'flops' | 'size' | 'latency';
  target?: number;
  maxAccuracyDrop: number;
  device?: DeviceSelector;
  latencySource: 'measured' | 'predicted';
  fallback?: 'fail' | 'predicted';
  k?: number;
  waitForDevicesMs?: number;
}

export interface JobSpec {
  variantId: string;
  dataset: { name: JobDatasetName; limitTrain?: number; limitTest?: number };
  pipeline: JobMethod[];
  options?: { aap?: AapJobOptions; sqakd?: SqakdJobOptions };
  objective: JobObjective;
  name?: string;
}

export interface JobProgress {
  step: string;
  fraction: number;
  message: string;
}

export interface JobRoundRecord {
  method: JobMethod;
  round: number;
  threshold: number;
  lambda: number;
  params: number;
  flops: number;
  bytes: number;
  /** Validation accuracy (fraction) the round was judged on. */
  accuracy: number;
  /** Test accuracy (fraction) of the round's model, when measured. */
  testAccuracy: number | null;
  latencyMs: number | null;
  latencySource: 'measured' | 'predicted' | null;
  predictedMs: number | null;
  verdict: 'baseline' | 'kept' | 'rolled-back' | 'final';
  variantId: string | null;
  /** Engine-format jobs: the ONNX variant devices can run, exported from `variantId`. */
  onnxVariantId?: string | null;
  /** On the final record: whether the job's result meets its objective, and why. */
  outcome?: JobObjectiveOutcome;
  /** On a step's output that was not kept: why its input carried on instead. */
  rejected?: string;
}

export interface JobObjectiveOutcome {
  /** The target is reached within the accuracy budget. */
  met: boolean;
  /** The accuracy budget holds. */
  feasible: boolean;
  note: string;
}

export interface JobView {
  id: string;
  name: string;
  state: JobState;
  variantId: string;
  modelId: string;
  pipeline: JobMethod[];
  objective: JobObjective;
  progress: JobProgress;
  rounds: JobRoundRecord[];
  resultVariantId: string | null;
  /** Whether the result meets the objective (null until there is a result); the note says why. */
  objectiveMet: boolean | null;
  objectiveNote: string | null;
  /** The result as a variant devices can run: itself when ONNX, else its ONNX twin. */
  deployableVariantId: string | null;
  candidateVariantIds: string[];
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** What the event stream sends: `event: <kind>`, `data: <JSON>`. */
export type JobEvent =
  | { kind: 'state'; data: JobView }
  | { kind: 'round'; data: JobRoundRecord }
  | { kind: 'progress'; data: JobProgress };
