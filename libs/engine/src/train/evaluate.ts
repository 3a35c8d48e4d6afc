/** Accuracy and loss of a model on a labeled split, in inference mode, batch by batch. */
import * as tf from '@tensorflow/tfjs-core';
import { GraphExecutor, type Model } from '../graph';
import type { Split } from '../data';
import { countCorrect, crossEntropy } from './losses';

export interface EvaluationResult {
  accuracy: number;
  /** Mean cross-entropy (no smoothing). */
  loss: number;
  correct: number;
  count: number;
}

export interface EvaluateOptions {
  batchSize?: number;
  /** Evaluate only the first N examples. */
  limit?: number;
}

export function evaluate(
  target: Model | GraphExecutor,
  split: Split,
  options: EvaluateOptions = {},
): EvaluationResult {
  if (!split.labels) throw new Error('cannot measure accuracy on an unlabeled split');
  const executor = target instanceof GraphExecutor ? target : new GraphExecutor(target);
  try {
    const shape = executor.graph.inputShape;
    const size = shape.reduce((a, b) => a * b, 1);
    const count = Math.min(split.count, options.limit ?? split.count);
    const batchSize = options.batchSize ?? 256;
    let correct = 0;
    let lossSum = 0;
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const [c, l] = tf.tidy(() => {
        const x = tf.tensor(split.images.subarray(start * size, (start + n) * size), [n, ...shape]);
        const y = tf.tensor1d(split.labels!.subarray(start, start + n), 'int32');
        const { logits } = executor.forward(x as tf.Tensor4D, { training: false });
        return [countCorrect(logits, y), tf.mul(crossEntropy(logits, y), n)];
      });
      correct += c.dataSync()[0]!;
      lossSum += l.dataSync()[0]!;
      c.dispose();
      l.dispose();
    }
    return {
      accuracy: count ? correct / count : 0,
      loss: count ? lossSum / count : 0,
      correct,
      count,
    };
  } finally {
    if (!(target instanceof GraphExecutor)) executor.dispose();
  }
}
