/**
 * Export of a quantized (fake-quant) model through the engine's quantization-aware ONNX
 * exporter: each marked kernel as the forward pass uses it, each fakeQuant node on its own
 * grid (no calibration data needed).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  activationQuantRange,
  exportQuantizedOnnx,
  fakeQuantWeight,
  quantizerWeightPrefix,
  type GraphNode,
  type Model,
  type QuantizedExport,
  type VariantMetadata,
} from '@edgecompress/engine';

function paramsOf(
  node: GraphNode,
  model: Model,
): Map<string, { shape: number[]; data: Float32Array }> {
  const prefix = quantizerWeightPrefix(node);
  const params = new Map<string, { shape: number[]; data: Float32Array }>();
  if (!prefix) return params;
  for (const [name, w] of model.weights)
    if (name.startsWith(prefix)) params.set(name.slice(prefix.length), w);
  return params;
}

/** The kernel a weight-quantized layer computes with (tfjs layout). */
export function quantizedKernelOf(node: GraphNode, model: Model): Float32Array | undefined {
  if (node.op !== 'conv2d' && node.op !== 'depthwiseConv2d' && node.op !== 'dense')
    return undefined;
  const attrs = node.attrs.weightQuant;
  if (!attrs) return undefined;
  const kernel = model.weights.get(`${node.id}/kernel`)!;
  return tf.tidy(() => {
    const params = new Map(
      [...paramsOf(node, model)].map(([k, w]) => [k, tf.tensor(w.data, w.shape)]),
    );
    const q = fakeQuantWeight(tf.tensor(kernel.data, kernel.shape), attrs, params, node.id);
    return Float32Array.from(q.dataSync());
  });
}

export async function exportQuantizedModel(
  model: Model,
  metadata?: VariantMetadata,
): Promise<QuantizedExport> {
  return exportQuantizedOnnx(model, {
    quantizedKernel: quantizedKernelOf,
    activationRange: (node, m) =>
      node.op === 'fakeQuant' ? activationQuantRange(node.attrs, paramsOf(node, m)) : undefined,
    ...(metadata ? { metadata } : {}),
  });
}
