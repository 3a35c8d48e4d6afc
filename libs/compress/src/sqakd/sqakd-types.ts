import type { Model } from '@edgecompress/engine';
import type { EpochProgress } from '../epoch-progress';
import type { QuantizationConfig } from '../quant';

/** kd: SQAKD (no labels); ce: the same quantizer trained on labels only; ce+kd: both. */
export type SqakdLoss = 'kd' | 'ce' | 'ce+kd';

export interface SqakdOptions {
  /** The full-precision teacher (frozen, eval mode). */
  teacher: Model;
  /** Float model the student starts from (default: the teacher; e.g. an AAP-pruned model). */
  studentInit?: Model;
  quantization: QuantizationConfig;
  epochs: number;
  /** Optional cap on steps per epoch (short runs); default: the whole split. */
  stepsPerEpoch?: number;
  batchSize?: number;
  /** Model weights: Adam lr 1e-3, weight decay 1e-4; quantizer parameters: lr 1e-5, no decay. */
  lrWeights?: number;
  lrQuantizer?: number;
  weightDecay?: number;
  temperature?: number;
  loss?: SqakdLoss;
  seed?: number;
  /**
   * Zero-pad each training image by this many pixels and crop it back at a random offset; the
   * teacher and the student see the same crop. 0 (default) trains on the images as they are.
   */
  padCrop?: number;
  /**
   * With quantization.ewgs: re-estimate each weight quantizer's delta by the Hessian-trace rule
   * every N epochs (from epoch 0). Without it delta stays 0 (plain STE, as the released code).
   */
  ewgsUpdateEvery?: number;
  /** Evaluate on at most this many test examples per epoch. */
  evalLimit?: number;
  onProgress?: (p: SqakdProgress) => void;
  /** Checked between steps; when it returns true training stops after the current step. */
  shouldStop?: () => boolean;
}

export type SqakdProgress = EpochProgress;

export interface SqakdEpoch {
  epoch: number;
  loss: number;
  accuracy: number | null;
  /** Mean EWGS delta over the weight quantizers after this epoch's update. */
  ewgsDelta?: number;
}

export interface SqakdProvenance {
  method: 'sqakd';
  loss: SqakdLoss;
  labelsRead: boolean;
  quantization: Required<Omit<QuantizationConfig, 'ewgs'>> & { ewgs: boolean };
  temperature: number;
  optimiser: {
    kind: 'adam';
    weights: { lr: number; weightDecay: number; schedule: 'cosine' };
    quantizer: { lr: number; weightDecay: 0; schedule: 'cosine' };
  };
  epochs: number;
  steps: number;
  batchSize: number;
  seed: number;
  padCrop: number;
  teacherAccuracy: number | null;
  decisions: string[];
}

export interface SqakdResult {
  model: Model;
  history: SqakdEpoch[];
  bestAccuracy: number | null;
  meanLast5Accuracy: number | null;
  teacherAccuracy: number | null;
  provenance: SqakdProvenance;
}
