/**
 * Fine-tuning between pruning rounds: a fresh optimizer and a restarted LR schedule each round
 * (weights are not rewound), with a budget in epochs or in steps so a search fits a time budget.
 * A step budget trains on a window of the split that moves every round, so rounds see
 * different examples.
 */
import {
  type Dataset,
  type Model,
  type Split,
  type TrainProgress,
  train,
} from '@edgecompress/engine';

export interface FineTuneBudget {
  /** Full passes over the fine-tuning split per round. */
  epochs?: number;
  /** Or: optimizer steps per round (takes precedence over epochs). */
  steps?: number;
  batchSize: number;
  lr: number;
  momentum?: number;
  weightDecay?: number;
  schedule?: 'cosine' | 'constant';
  padCrop?: number;
  flip?: boolean;
  seed?: number;
  /** Data-parallel replicas, this thread included (default 1: this thread only). */
  workers?: number;
}

export const DEFAULT_FINE_TUNE: FineTuneBudget = {
  epochs: 1,
  batchSize: 128,
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 5e-4,
  schedule: 'cosine',
};

export function validateBudget(budget: FineTuneBudget): void {
  const { epochs, steps, batchSize, lr } = budget;
  if (steps === undefined && epochs === undefined) {
    throw new RangeError('the fine-tuning budget needs epochs or steps');
  }
  if (steps !== undefined && !(Number.isInteger(steps) && steps >= 0)) {
    throw new RangeError(`fine-tune steps must be an integer >= 0, got ${steps}`);
  }
  if (epochs !== undefined && !(Number.isInteger(epochs) && epochs >= 0)) {
    throw new RangeError(`fine-tune epochs must be an integer >= 0, got ${epochs}`);
  }
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!(lr > 0)) throw new RangeError(`fine-tune lr must be > 0, got ${lr}`);
  const workers = budget.workers ?? 1;
  if (!(Number.isInteger(workers) && workers >= 1)) {
    throw new RangeError(`fine-tune workers must be an integer >= 1, got ${workers}`);
  }
}

/**
 * The training window of round `round` for a step budget. A window no larger than the split is
 * a view; a larger one repeats the split, so the schedule spans exactly the budgeted steps.
 */
function window(split: Split, size: number, examples: number, round: number): Split {
  if (examples > split.count) {
    const images = new Float32Array(examples * size);
    const labels = split.labels ? new Int32Array(examples) : null;
    for (let done = 0; done < examples; done += split.count) {
      const n = Math.min(split.count, examples - done);
      images.set(split.images.subarray(0, n * size), done * size);
      labels?.set(split.labels!.subarray(0, n), done);
    }
    return { images, labels, count: examples };
  }
  const start = (round * examples) % (split.count - examples + 1);
  return {
    images: split.images.subarray(start * size, (start + examples) * size),
    labels: split.labels ? split.labels.subarray(start, start + examples) : null,
    count: examples,
  };
}

export async function fineTune(
  model: Model,
  dataset: Dataset,
  split: Split,
  budget: FineTuneBudget,
  round: number,
  onProgress?: (p: TrainProgress) => void,
): Promise<Model> {
  validateBudget(budget);
  const size = dataset.inputShape[0] * dataset.inputShape[1] * dataset.inputShape[2];
  let train_ = split;
  let epochs = budget.epochs ?? 1;
  if (budget.steps !== undefined) {
    if (budget.steps === 0) return model;
    train_ = window(split, size, budget.steps * budget.batchSize, round);
    epochs = 1;
  } else if (epochs === 0) {
    return model;
  }
  const result = await train({
    model,
    dataset: { ...dataset, train: train_ },
    epochs,
    batchSize: Math.min(budget.batchSize, train_.count),
    optimizer: { kind: 'sgd', momentum: budget.momentum ?? 0.9 },
    lr: budget.lr,
    schedule: budget.schedule ?? 'cosine',
    weightDecay: budget.weightDecay ?? 0,
    padCrop: budget.padCrop ?? 0,
    flip: budget.flip ?? false,
    seed: (budget.seed ?? 0) + round,
    evaluateEachEpoch: false,
    workers: budget.workers ?? 1,
    ...(onProgress ? { onProgress } : {}),
  });
  return result.model;
}
