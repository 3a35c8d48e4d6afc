/**
 * A 2-bit artifact exactly as `edgec compress sqakd` exports it: a small CNN whose convs (all but
 * the first) carry 2-bit learned-interval weight quantizers, exported with bit-packed kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  buildSmallCnn,
  exportQuantizedOnnx,
  type Model,
  type WeightTensor,
} from '@edgecompress/engine';
import { markQuantized } from '../../onnx/quantized-models';

const scalar = (v: number): WeightTensor => ({ shape: [], data: Float32Array.of(v) });

export async function packedTwoBitCnn(): Promise<{ bytes: Uint8Array; inputShape: number[] }> {
  await tf.setBackend('cpu');
  const base: Model = buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
  const marked = markQuantized(base, 2);
  const weights = new Map(marked.weights);
  for (const node of marked.graph.nodes) {
    if ((node.op === 'conv2d' || node.op === 'depthwiseConv2d') && node.attrs.weightQuant) {
      const k = weights.get(`${node.id}/kernel`)!.data;
      const amax = k.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      weights.set(`${node.id}/wq.lower`, scalar(-amax));
      weights.set(`${node.id}/wq.upper`, scalar(amax));
      weights.set(`${node.id}/wq.scale`, scalar(amax * 0.9));
    }
  }
  const { bytes, report } = await exportQuantizedOnnx({ graph: marked.graph, weights });
  if (!Object.values(report.weights).some((w) => w.storage === 'packed' && w.bits === 2)) {
    throw new Error('the fixture export holds no 2-bit packed weights');
  }
  return { bytes, inputShape: [1, 1, 28, 28] };
}
