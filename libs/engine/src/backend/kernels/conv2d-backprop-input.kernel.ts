/**
 * Conv2DBackpropInput for the wasm backend. The stock wasm kernel is a scalar loop several
 * times slower than the forward convolution; this one dilates dy by the stride and correlates
 * it with the spatially reversed, in/out-swapped filter, so the work runs in the forward
 * (XNNPACK) Conv2D kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { asTensor } from './as-tensor';
import { geometryOf, transposedConvInput } from './spatial-ops';

export function conv2dBackpropInput(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | [number, number],
  pad: tf.backend_util.ExplicitPadding | 'valid' | 'same' | number,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const g = geometryOf(info);
  return tf.tidy(() => {
    const spread = transposedConvInput(dy, g);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    return tf.conv2d(spread, flipped as tf.Tensor4D, 1, 'valid');
  });
}

export const conv2dBackpropInputKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const { dy, filter } = inputs as unknown as tf.Conv2DBackpropInputInputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
    attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (dataFormat !== 'NHWC') {
    throw new Error(`Conv2DBackpropInput on wasm supports NHWC only, got ${dataFormat}`);
  }
  return conv2dBackpropInput(
    asTensor<tf.Tensor4D>(dy, 'dy'),
    asTensor<tf.Tensor4D>(filter, 'filter'),
    inputShape,
    strides,
    pad,
    dimRoundingMode,
  );
};
