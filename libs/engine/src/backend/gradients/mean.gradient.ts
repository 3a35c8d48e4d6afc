/**
 * Gradient of Mean without tfjs's full-size `ones`: tfjs builds dx as
 * (dy reshaped) * ones(x.shape) / n, filling the ones array in JavaScript and copying it into
 * the backend on every call. Training-mode batch norm takes two means per layer (tf.moments), so
 * in a profiled ResNet-8 step on wasm that fill alone was about 5 % of the time. Dividing the
 * small dy first and broadcasting it with one backend kernel gives the same values.
 */
import * as tf from '@tensorflow/tfjs-core';

export const meanGradConfig: tf.GradConfig = {
  kernelName: tf.Mean,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const grad = dy as tf.Tensor;
    const [x] = saved as [tf.Tensor];
    const { axis } = attrs as unknown as tf.MeanAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
    return {
      x: () => tf.mul(tf.onesLike(x), tf.div(tf.reshape(grad, kept), tf.scalar(count))),
    };
  },
};
