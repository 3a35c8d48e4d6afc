/**
 * Training-mode batch norm as one differentiable step with its gradient written out. Built from
 * tfjs ops (tf.moments, then tf.batchNorm), a training step's batch norms were its largest cost
 * after the convolutions on wasm: the per-channel means go through wasm's Sum, which transposes
 * the whole tensor first, and autodiff through moments adds a Sum and a full-size broadcast per
 * mean. Here every per-channel sum is one pass over the values (`channelSum`), and the backward
 * pass is the closed form
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/σ · (dy − (dβ + x̂·dγ) / M)
 * where x̂ = (x − μ)/σ, σ = sqrt(var + ε) and the sums run over the M = N·H·W positions.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Sum over every axis but the last (the channels). For feature maps, a spatial average pool
 * (NHWC-native on wasm's XNNPACK) and then a sum over the batch: wasm's Sum transposes the whole
 * tensor to bring the reduced axes last, about 4x slower on a [128, 28, 28, 16] tensor here, and
 * a matrix product with a row of ones repacks the tensor as a weight matrix on every call.
 */
export function channelSum(t: tf.Tensor): tf.Tensor1D {
  const [n, h, w, c] = t.shape as number[];
  if (t.rank === 4 && h! * w! > 1) {
    const means = tf.avgPool(t as tf.Tensor4D, [h!, w!], [h!, w!], 'valid');
    return tf.mul(tf.sum(tf.reshape(means, [n!, c!]), 0), h! * w!) as tf.Tensor1D;
  }
  return tf.sum(t, [...Array(t.rank - 1).keys()]) as tf.Tensor1D;
}

export interface BatchNormTrainingResult {
  y: tf.Tensor;
  /** The batch's per-channel mean. */
  mean: tf.Tensor1D;
  /** The batch's per-channel biased variance (what normalised y). */
  variance: tf.Tensor1D;
}

/**
 * y = (x − μ_batch) / sqrt(var_batch + ε) · γ + β over every axis but the last. Gradients reach
 * x, γ and β; the returned statistics carry none (they only feed the running averages).
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): BatchNormTrainingResult {
  let statistics: { mean: tf.Tensor1D; variance: tf.Tensor1D } | undefined;
  const step = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, scale, offset, save] = args as [
      tf.Tensor,
      tf.Tensor1D,
      tf.Tensor1D,
      tf.GradSaveFunc,
    ];
    const positions = input.size / input.shape[input.rank - 1]!;
    const mean = tf.div(channelSum(input), positions) as tf.Tensor1D;
    const centered = tf.sub(input, mean);
    const variance = tf.div(channelSum(tf.square(centered)), positions) as tf.Tensor1D;
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const normalized = tf.mul(centered, invStd);
    save([normalized, invStd, scale]);
    // The engine disposes what a custom gradient's forward pass made besides its value, so the
    // statistics are kept here and handed back as ordinary tensors of the caller's scope below.
    statistics = { mean: tf.keep(mean), variance: tf.keep(variance) };
    return {
      value: tf.add(tf.mul(normalized, scale), offset),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xHat, inv, g] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
        const dBeta = channelSum(dy);
        const dGamma = channelSum(tf.mul(dy, xHat));
        const projection = tf.div(tf.add(tf.mul(xHat, dGamma), dBeta), positions);
        const dx = tf.mul(tf.sub(dy, projection), tf.mul(g, inv));
        return [dx, dGamma, dBeta];
      },
    };
  });
  const y = step(x, gamma, beta);
  const { mean, variance } = statistics!;
  const result = { y, mean: tf.clone(mean), variance: tf.clone(variance) };
  mean.dispose();
  variance.dispose();
  return result;
}
