/**
 * The REST answers the CLI reads (jobs, rollouts, reports, devices), as the control plane's
 * contract defines them. Only what the CLI shows is typed; extra fields pass through untouched.
 */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface RoundRecord {
  method: string;
  round: number;
  threshold: number | null;
  lambda: number | null;
  params: number | null;
  flops: number | null;
  bytes: number | null;
  accuracy: number | null;
  latencyMs: number | null;
  latencySource: 'measured' | 'predicted' | null;
  predictedMs: number | null;
  verdict: 'baseline' | 'kept' | 'rolled-back' | 'final';
  variantId: string | null;
  /** Why a step's output was not kept (its input carried on). */
  rejected?: string;
}

export interface JobView {
  id: string;
  name: string | null;
  state: JobState;
  pipeline: string[];
  objective: Record<string, unknown>;
  progress: { step: string; fraction: number; message: string };
  rounds: RoundRecord[];
  resultVariantId: string | null;
  /** Whether the result meets the objective (absent from older servers); the note says why. */
  objectiveMet?: boolean | null;
  objectiveNote?: string | null;
  /** The result as a variant devices can run (its ONNX twin when the job worked on an engine file). */
  deployableVariantId?: string | null;
  variantId?: string;
  candidateVariantIds: string[];
  error: string | null;
  createdAt: string | number | null;
  startedAt: string | number | null;
  finishedAt: string | number | null;
}

export const JOB_DONE: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

export type RolloutState = 'running' | 'paused' | 'succeeded' | 'aborted';

export interface RolloutWave {
  index: number;
  label: string;
  percent: number;
  deviceIds: string[];
  state: 'pending' | 'running' | 'soaking' | 'done' | 'aborted';
}

export type TargetStep =
  | 'pending'
  | 'fetch'
  | 'verify'
  | 'load'
  | 'self-test'
  | 'benchmark'
  | 'activate'
  | 'done'
  | 'failed'
  | 'rolled-back'
  | 'skipped';

export interface RolloutTarget {
  deviceId: string;
  wave: number;
  step: TargetStep;
  p50Ms: number | null;
  p99Ms: number | null;
  previousP50Ms: number | null;
  agreement: number | null;
  error: string | null;
  /** Steps sent again after a retryable device error (absent from older servers). */
  retries?: number;
  /** When the waiting retry goes out. */
  retryAt?: string | null;
}

export interface RolloutView {
  id: string;
  variantId: string;
  state: RolloutState;
  reason: string | null;
  waves: RolloutWave[];
  targets: RolloutTarget[];
  createdAt: string | number | null;
  finishedAt: string | number | null;
}

export const ROLLOUT_DONE: ReadonlySet<string> = new Set(['succeeded', 'aborted']);
/** Target steps after which a device has nothing left to do in this rollout. */
export const TARGET_SETTLED: ReadonlySet<string> = new Set([
  'done',
  'failed',
  'rolled-back',
  'skipped',
]);

export interface ParetoPoint {
  variantId: string;
  /** The ONNX twin a device runs, when the candidate is an engine file. */
  deployableVariantId?: string;
  accuracy: number | null;
  p50Ms: number | null;
  latencySource: string | null;
  bytes: number | null;
  params: number | null;
  flops: number | null;
  method: string | null;
}

export interface ParetoAnswer {
  points: ParetoPoint[];
  pareto: string[];
}

export interface DeviceView {
  id: string;
  name: string;
  status: string;
  agentVersion: string | null;
  activeVariant: { artifactSha256: string; variantId: string | null } | null;
  profile: { id: string; source: string } | null;
  tags: string[];
  groups: string[];
  lastSeenAt: string | null;
}
