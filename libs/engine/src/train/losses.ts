/** Loss functions on logits, with the reductions PyTorch uses (mean over the batch). */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Cross-entropy with optional label smoothing: the target puts `1 - eps` on the true class and
 * `eps / K` on every class (torch.nn.CrossEntropyLoss(label_smoothing=eps)).
 */
export function crossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  labelSmoothing = 0,
): tf.Scalar {
  return tf.tidy(() => {
    const numClasses = logits.shape[1];
    const logProbs = tf.logSoftmax(logits);
    let target: tf.Tensor = tf.oneHot(tf.cast(labels, 'int32'), numClasses);
    if (labelSmoothing > 0) {
      target = tf.add(tf.mul(target, 1 - labelSmoothing), labelSmoothing / numClasses);
    }
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logProbs), 1))) as tf.Scalar;
  });
}

/**
 * Knowledge distillation: `T^2 * KL(softmax(teacher / T) || softmax(student / T))`, averaged over
 * the batch (Hinton et al.; the T^2 keeps gradient scale independent of T).
 */
export function distillationLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  temperature: number,
): tf.Scalar {
  return tf.tidy(() => {
    const pT = tf.softmax(tf.div(teacherLogits, temperature));
    const logPT = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const logPS = tf.logSoftmax(tf.div(studentLogits, temperature));
    const kl = tf.sum(tf.mul(pT, tf.sub(logPT, logPS)), 1);
    return tf.mul(tf.mean(kl), temperature * temperature) as tf.Scalar;
  });
}

/** Number of rows whose arg-max equals the label. */
export function countCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() =>
    tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, 'int32')), 'float32')),
  ) as tf.Scalar;
}
