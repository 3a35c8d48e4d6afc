/**
 * Conv2DBackpropFilter for the wasm backend (which ships without it).
 *
 * dW[i, j, ci, co] = sum over (n, h, w) of x[n, h*s + i*d - pad, w*s + j*d - pad, ci] * dy[n, h, w, co].
 * The input is moved channel-first once, each filter tap becomes a [Ci, N*Ho*Wo] slice, the
 * slices are stacked into one [Kh*Kw*Ci, N*Ho*Wo] matrix and a single MatMul against dy
 * [N*Ho*Wo, Co] gives the whole gradient already in [Kh, Kw, Ci, Co] order. Measured against
 * the alternatives (per-tap MatMuls, NHWC im2col with a transposed MatMul, the
 * transposed-convolution trick) this was the fastest on the wasm backend; see docs/benchmarks.md.
 */
import * as tf from '@tensorflow/tfjs-core';
import { asTensor } from './as-tensor';
import { geometryOf, receptiveInput, tapView } from './spatial-ops';

export function conv2dBackpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: tf.backend_util.ExplicitPadding | 'valid' | 'same' | number,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const g = geometryOf(info);
  const [kh, kw, inC, outC] = filterShape;
  return tf.tidy(() => {
    const channelFirst = tf.transpose(receptiveInput(x, g, 1, 2), [3, 0, 1, 2]);
    const rows = g.batch * g.outHeight * g.outWidth;
    const taps: tf.Tensor[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        taps.push(tf.reshape(tapView(channelFirst, g, 2, 3, i, j), [inC, rows]));
      }
    }
    const columns = taps.length === 1 ? taps[0] : tf.concat(taps, 0);
    const grad = tf.matMul(columns, tf.reshape(dy, [rows, outC]));
    return tf.reshape(grad, [kh, kw, inC, outC]);
  });
}

export const conv2dBackpropFilterKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const { x, dy } = inputs as unknown as tf.Conv2DBackpropFilterInputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== 'NHWC') {
    throw new Error(`Conv2DBackpropFilter on wasm supports NHWC only, got ${dataFormat}`);
  }
  return conv2dBackpropFilter(
    asTensor<tf.Tensor4D>(x, 'x'),
    asTensor<tf.Tensor4D>(dy, 'dy'),
    filterShape,
    strides,
    pad,
    dimRoundingMode,
  );
};
