/**
 * Per-channel attention of every ReLU/ReLU6 output: for each calibration batch (eval mode),
 * average the post-activation tensor over the batch, raise it to the power p, average over space.
 * Scores are averaged over the batches. Calibration batches come from the TRAINING split so test
 * data never steers pruning.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphExecutor, type Model, type Split } from '@edgecompress/engine';
import { ACTIVATION_OPS } from '../pruning';

export interface AttentionOptions {
  /** Calibration batches (default 8). */
  batches?: number;
  batchSize?: number;
  /** Exponent p applied after the batch mean (default 1). */
  power?: number;
  /** First example of the calibration window inside the split (default 0). */
  offset?: number;
}

/** Scores by activation node id: one value per channel (per feature for dense activations). */
export type AttentionScores = Map<string, Float32Array>;

export function computeAttentionScores(
  model: Model,
  split: Split,
  options: AttentionOptions = {},
): AttentionScores {
  const batches = options.batches ?? 8;
  const batchSize = options.batchSize ?? 64;
  const power = options.power ?? 1;
  const shape = model.graph.inputShape;
  const size = shape.reduce((a, b) => a * b, 1);
  const offset = options.offset ?? 0;
  const available = Math.floor((split.count - offset) / batchSize);
  const used = Math.min(batches, available);
  if (used < 1) {
    throw new Error(
      `calibration needs at least one batch of ${batchSize} examples; the split has ${split.count - offset}`,
    );
  }
  const activations = model.graph.nodes.filter((n) => ACTIVATION_OPS.has(n.op)).map((n) => n.id);
  const sums = new Map<string, tf.Tensor>();
  const executor = new GraphExecutor(model);
  try {
    for (let b = 0; b < used; b++) {
      const start = offset + b * batchSize;
      const images = split.images.subarray(start * size, (start + batchSize) * size);
      tf.tidy(() => {
        const dims: number[] = [batchSize, ...shape];
        const x = tf.tensor(images, dims as [number, number]) as tf.Tensor4D | tf.Tensor2D;
        const { logits, captured } = executor.forward(x, { training: false, capture: activations });
        logits.dispose();
        for (const [id, a] of captured) {
          const mean = tf.mean(a, 0); // batch mean first, then the power (as the released code)
          const powered = power === 1 ? mean : tf.pow(mean, power);
          const spatialAxes = powered.shape.slice(0, -1).map((_, i) => i);
          const score = spatialAxes.length ? tf.mean(powered, spatialAxes) : powered;
          const prev = sums.get(id);
          sums.set(id, tf.keep(prev ? tf.add(prev, score) : score));
          prev?.dispose();
        }
      });
    }
  } finally {
    executor.dispose();
  }
  const scores: AttentionScores = new Map();
  for (const [id, sum] of sums) {
    const data = sum.dataSync() as Float32Array;
    scores.set(
      id,
      data.map((v) => v / used),
    );
    sum.dispose();
  }
  return scores;
}
