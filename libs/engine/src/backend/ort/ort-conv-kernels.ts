/**
 * Conv2D and its two gradients as tfjs kernels that compute on onnxruntime's CPU kernels
 * (MLAS: AVX2/AVX-512 where the CPU has them) instead of 128-bit wasm SIMD. Inputs are read
 * from the wasm heap, run through a cached single-op ONNX session, and written back.
 */
import * as tf from '@tensorflow/tfjs-core';
import { geometryOf } from '../kernels/spatial-ops';
import {
  convBackpropFilterGraph,
  convBackpropInputGraph,
  convForwardGraph,
  type ConvShapes,
} from './kernel-graph.builder';
import type { OrtKernelRunner } from './ort-kernel-runner';

type Pad = tf.backend_util.ExplicitPadding | 'valid' | 'same' | number;

function shapesOf(info: tf.backend_util.Conv2DInfo): ConvShapes {
  return {
    geometry: geometryOf(info),
    inChannels: info.inChannels,
    outChannels: info.outChannels,
    padBottom: info.padInfo.bottom,
    padRight: info.padInfo.right,
  };
}

/** tfjs types a kernel's backend as `{}`; every backend implements `readSync`. */
function readFloats(backend: unknown, info: tf.TensorInfo | undefined, name: string) {
  if (info === undefined) throw new Error(`convolution kernel called without its "${name}" input`);
  if (info.dtype !== 'float32') throw new Error(`"${name}" must be float32, got ${info.dtype}`);
  const data = (backend as tf.KernelBackend).readSync(info.dataId) as Float32Array;
  return { data, dims: info.shape };
}

function requireNhwc(kernel: string, dataFormat: string): void {
  if (dataFormat !== 'NHWC') throw new Error(`${kernel} supports NHWC only, got ${dataFormat}`);
}

const keyOf = (kind: string, s: ConvShapes) => `${kind}:${JSON.stringify(s)}`;

export function ortConvKernels(
  runner: OrtKernelRunner,
): Array<{ name: string; kernelFunc: tf.KernelFunc }> {
  const forward: tf.KernelFunc = ({ inputs, attrs, backend }) => {
    const { x, filter } = inputs as unknown as tf.Conv2DInputs;
    const { strides, pad, dataFormat, dilations, dimRoundingMode } =
      attrs as unknown as tf.Conv2DAttrs;
    requireNhwc('Conv2D', dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      (x as tf.TensorInfo).shape as [number, number, number, number],
      (filter as tf.TensorInfo).shape as [number, number, number, number],
      strides,
      dilations,
      pad as Pad,
      dimRoundingMode,
    );
    const s = shapesOf(info);
    const out = runner.run(
      keyOf('conv', s),
      () => convForwardGraph(s),
      { x: readFloats(backend, x, 'x'), w: readFloats(backend, filter, 'filter') },
      'y',
    );
    return tf.tensor4d(out, [info.batchSize, info.outHeight, info.outWidth, info.outChannels]);
  };

  const backpropInput: tf.KernelFunc = ({ inputs, attrs, backend }) => {
    const { dy, filter } = inputs as unknown as tf.Conv2DBackpropInputInputs;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
      attrs as unknown as tf.Conv2DBackpropInputAttrs;
    requireNhwc('Conv2DBackpropInput', dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      (filter as tf.TensorInfo).shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const s = shapesOf(info);
    const out = runner.run(
      keyOf('dx', s),
      () => convBackpropInputGraph(s),
      { dy: readFloats(backend, dy, 'dy'), w: readFloats(backend, filter, 'filter') },
      'dx',
    );
    return tf.tensor4d(out, inputShape);
  };

  const backpropFilter: tf.KernelFunc = ({ inputs, attrs, backend }) => {
    const { x, dy } = inputs as unknown as tf.Conv2DBackpropFilterInputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
      attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    requireNhwc('Conv2DBackpropFilter', dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      (x as tf.TensorInfo).shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const s = shapesOf(info);
    const out = runner.run(
      keyOf('dw', s),
      () => convBackpropFilterGraph(s),
      { x: readFloats(backend, x, 'x'), dy: readFloats(backend, dy, 'dy') },
      'dw',
    );
    return tf.tensor4d(out, filterShape);
  };

  return [
    { name: tf.Conv2D, kernelFunc: forward },
    { name: tf.Conv2DBackpropInput, kernelFunc: backpropInput },
    { name: tf.Conv2DBackpropFilter, kernelFunc: backpropFilter },
  ];
}
