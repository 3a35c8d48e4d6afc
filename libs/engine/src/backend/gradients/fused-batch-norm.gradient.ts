/**
 * Gradient of FusedBatchNorm (y = (x - mean) * rsqrt(variance + eps) * scale + offset) without
 * tfjs's explicit `tile`s: tfjs materialises the per-channel factors at the full [N, H, W, C]
 * size before multiplying, and in a profiled training step on wasm those tiles were the single
 * largest kernel (28-40% of the step). Broadcasting multiplies give the same values.
 */
import * as tf from '@tensorflow/tfjs-core';
import { meanGradConfig } from './mean.gradient';

function reduceTo(t: tf.Tensor, axes: number[], shape: number[]): tf.Tensor {
  return tf.reshape(axes.length > 0 ? tf.sum(t, axes) : t, shape);
}

export const fusedBatchNormGradConfig: tf.GradConfig = {
  kernelName: tf.FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const grad = dy as tf.Tensor;
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor?];
    const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const invStd = () => tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const scaled = () => (scale ? tf.mul(invStd(), scale) : invStd());
    // sum over the reduced axes of dy * (x - mean), shared by the variance and scale terms.
    const dyCentered = () => reduceTo(tf.mul(grad, tf.sub(x, mean)), axes, mean.shape);
    return {
      x: () => tf.mul(grad, scaled()),
      mean: () => tf.mul(reduceTo(grad, axes, mean.shape), tf.neg(scaled())),
      variance: () => {
        const s = invStd();
        const factor = tf.mul(tf.mul(tf.mul(s, s), s), tf.scalar(-0.5));
        const withScale = scale ? tf.mul(factor, scale) : factor;
        return tf.reshape(tf.mul(dyCentered(), withScale), variance.shape);
      },
      scale: () => tf.reshape(tf.mul(dyCentered(), invStd()), scale ? scale.shape : mean.shape),
      offset: () => reduceTo(grad, axes, mean.shape),
    };
  },
};

/**
 * Replaces tfjs's FusedBatchNorm and Mean gradients (process-wide: every backend benefits).
 * Idempotent.
 */
export function registerFastGradients(): void {
  for (const config of [fusedBatchNormGradConfig, meanGradConfig]) {
    if (tf.getGradient(config.kernelName)?.gradFunc === config.gradFunc) continue;
    if (tf.getGradient(config.kernelName)) tf.unregisterGradient(config.kernelName);
    tf.registerGradient(config);
  }
}
