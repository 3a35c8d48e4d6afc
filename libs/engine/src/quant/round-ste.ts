/**
 * Gradient-shaping primitives of the fake quantizers, built on tf.customGrad.
 * - roundSte: rounding with a straight-through gradient, optionally scaled as EWGS does:
 *   dL/dx = g * (1 + delta * sign(g) * (x - round(x))), x in level units. With no delta (or
 *   delta = 0) this is the plain straight-through estimator.
 * - stopGradient: tfjs has no stop_gradient op.
 * - scaleGradient: LSQ's step-size gradient scale.
 */
import * as tf from '@tensorflow/tfjs-core';

type CustomGradientFunc = Parameters<typeof tf.customGrad>[0];

interface CustomResult {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
}

/** tf.customGrad over a fixed number of tensor inputs (its own typing mixes inputs and `save`). */
function customOp1(
  f: (x: tf.Tensor, save: tf.GradSaveFunc) => CustomResult,
): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(f as unknown as CustomGradientFunc) as (x: tf.Tensor) => tf.Tensor;
}

function customOp2(
  f: (x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => CustomResult,
): (x: tf.Tensor, y: tf.Tensor) => tf.Tensor {
  return tf.customGrad(f as unknown as CustomGradientFunc) as (
    x: tf.Tensor,
    y: tf.Tensor,
  ) => tf.Tensor;
}

const plainRoundSte = customOp1((x) => ({
  value: tf.round(x),
  gradFunc: (dy) => [dy],
}));

const ewgsRoundSte = customOp2((x, delta, save) => {
  const rounded = tf.round(x);
  save([tf.sub(x, rounded), delta]);
  return {
    value: rounded,
    gradFunc: (dy, saved) => {
      const [diff, d] = saved as [tf.Tensor, tf.Tensor];
      const scale = tf.add(1, tf.mul(d, tf.mul(tf.sign(dy), diff)));
      // delta is a buffer moved by the Hessian-trace rule, not by gradient descent.
      return [tf.mul(dy, scale), tf.zerosLike(d)];
    },
  };
});

export function roundSte(x: tf.Tensor, ewgsDelta?: tf.Tensor): tf.Tensor {
  return ewgsDelta ? ewgsRoundSte(x, ewgsDelta) : plainRoundSte(x);
}

/** Forward value `x`, zero gradient. */
export const stopGradient = customOp1((x) => ({
  value: tf.clone(x),
  gradFunc: (dy) => [tf.zerosLike(dy)],
}));

/** Forward value `x`, gradient multiplied by `factor`. */
export function scaleGradient(x: tf.Tensor, factor: number): tf.Tensor {
  return tf.add(tf.mul(x, factor), stopGradient(tf.mul(x, 1 - factor)));
}
