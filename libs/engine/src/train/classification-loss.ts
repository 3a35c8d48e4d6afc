/** The standard supervised loss closure: cross-entropy (with label smoothing) on a labeled batch. */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphExecutor } from '../graph';
import type { Batch } from '../data';
import { countCorrect, crossEntropy } from './losses';
import type { LossClosure } from './train-step';

/** Builds the NHWC input tensor of a batch. */
export function batchTensor(
  batch: Batch,
  inputShape: readonly number[],
): tf.Tensor4D | tf.Tensor2D {
  const shape: number[] = [batch.count, ...inputShape];
  return tf.tensor<tf.Rank>(batch.images, shape, 'float32') as tf.Tensor4D | tf.Tensor2D;
}

export function labelTensor(batch: Batch): tf.Tensor1D {
  if (!batch.labels) {
    throw new Error('this loss needs labels, but the split is unlabeled');
  }
  return tf.tensor1d(batch.labels, 'int32');
}

/**
 * Cross-entropy in training mode. Reports `correct` (count of right predictions) as a metric and
 * proposes the BN running statistics. The input tensors are owned by the caller.
 */
export function classificationLoss(
  executor: GraphExecutor,
  x: tf.Tensor4D | tf.Tensor2D,
  labels: tf.Tensor1D,
  labelSmoothing = 0,
): LossClosure {
  return () => {
    const out = executor.forward(x, { training: true });
    return {
      loss: crossEntropy(out.logits, labels, labelSmoothing),
      stateUpdates: out.stateUpdates,
      metrics: { correct: countCorrect(out.logits, labels) },
    };
  };
}
