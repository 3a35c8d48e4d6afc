/**
 * Messages between the control plane and a job's child process (Node IPC, JSON). The child
 * owns the training and the round files under its work dir; the parent owns the database,
 * the variants and the fleet, and answers the child's latency questions.
 */
import type { JobProgress, JobRoundRecord, JobSpec } from '../job.types';

export interface WorkerStart {
  type: 'start';
  jobId: string;
  spec: JobSpec;
  /** The base variant's file and its format. */
  baseModelPath: string;
  baseFormat: 'engine' | 'onnx';
  /** Where the child keeps checkpoints and round files; survives restarts. */
  workDir: string;
  /** Key the objective names the target devices by (shown in summaries). */
  deviceKey: string | null;
}

export interface WorkerLatencyAnswer {
  type: 'latency-answer';
  requestId: number;
  ok: boolean;
  p50Ms?: number;
  p90Ms?: number;
  p99Ms?: number;
  source?: 'measured' | 'predicted';
  predictedMs?: number | null;
  error?: string;
}

export type ParentMessage = WorkerStart | WorkerLatencyAnswer;

/** A round's record plus, for rounds that become variants, the file to store. */
export interface WorkerRound {
  type: 'round';
  record: Omit<JobRoundRecord, 'variantId'>;
  /** Variant file in the base model's format (absent for rolled-back rounds and the baseline). */
  variantPath: string | null;
  /** Engine-format jobs: the same model as deployable ONNX, stored as the variant's ONNX twin. */
  onnxPath?: string | null;
  /** Round whose variant a 'final' record stands for (the file was sent with that round). */
  sameAsRound: number | null;
  options: Record<string, unknown>;
}

export type ChildMessage =
  | { type: 'progress'; progress: JobProgress }
  | { type: 'log'; message: string }
  | WorkerRound
  | {
      type: 'latency';
      requestId: number;
      /** The candidate as float or QDQ ONNX, base64. */
      onnxBase64: string;
      inputShape: number[];
      label: string;
      /** `predict`: the calibrated prediction only, no device time (rounds that cannot be kept). */
      mode: 'measure' | 'predict';
    }
  | { type: 'done' }
  | { type: 'failed'; error: string };
