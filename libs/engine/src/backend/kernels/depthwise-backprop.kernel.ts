/**
 * DepthwiseConv2dNativeBackpropFilter and DepthwiseConv2dNativeBackpropInput for the wasm
 * backend (neither ships with it). Filter layout [kh, kw, C, multiplier]; output channel
 * c * multiplier + m reads input channel c, as in tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { asTensor } from './as-tensor';
import { geometryOf, receptiveInput, tapView, transposedConvInput } from './spatial-ops';

type Pad = tf.backend_util.ExplicitPadding | 'valid' | 'same' | number;

function depthwiseInfo(
  inputShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
) {
  return tf.backend_util.computeConv2DInfo(
    inputShape,
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
}

/** dW[i, j, c, m] = sum over (n, h, w) of tap(i, j) of x at channel c times dy at channel c*M + m. */
export function depthwiseBackpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  const g = geometryOf(
    depthwiseInfo(x.shape, filterShape, strides, dilations, pad, dimRoundingMode),
  );
  const [kh, kw, channels, multiplier] = filterShape;
  return tf.tidy(() => {
    const window = receptiveInput(x, g, 1, 2);
    const grad5 = tf.reshape(dy, [g.batch, g.outHeight, g.outWidth, channels, multiplier]);
    const taps: tf.Tensor[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const view = tf.reshape(tapView(window, g, 1, 2, i, j), [
          g.batch,
          g.outHeight,
          g.outWidth,
          channels,
          1,
        ]);
        taps.push(tf.sum(tf.mul(view, grad5), [0, 1, 2]));
      }
    }
    return tf.reshape(tf.stack(taps), [kh, kw, channels, multiplier]);
  });
}

/** dx: dy dilated by the stride, correlated channel by channel with the reversed filter. */
export function depthwiseBackpropInput(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  const g = geometryOf(
    depthwiseInfo(inputShape, filter.shape, strides, dilations, pad, dimRoundingMode),
  );
  const [kh, kw, channels, multiplier] = filter.shape;
  return tf.tidy(() => {
    const spread = transposedConvInput(dy, g);
    const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, channels * multiplier, 1]);
    const perOutput = tf.depthwiseConv2d(spread, flipped as tf.Tensor4D, 1, 'valid', 'NHWC', [
      g.dilationHeight,
      g.dilationWidth,
    ]);
    if (multiplier === 1) return perOutput;
    const [n, h, w] = perOutput.shape;
    return tf.sum(tf.reshape(perOutput, [n, h, w, channels, multiplier]), 4) as tf.Tensor4D;
  });
}

export const depthwiseBackpropFilterKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const { x, dy } = inputs as unknown as tf.DepthwiseConv2dNativeBackpropFilterInputs;
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  return depthwiseBackpropFilter(
    asTensor<tf.Tensor4D>(x, 'x'),
    asTensor<tf.Tensor4D>(dy, 'dy'),
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
  );
};

export const depthwiseBackpropInputKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const { dy, filter } = inputs as unknown as tf.DepthwiseConv2dNativeBackpropInputInputs;
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  return depthwiseBackpropInput(
    asTensor<tf.Tensor4D>(dy, 'dy'),
    asTensor<tf.Tensor4D>(filter, 'filter'),
    inputShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
  );
};
