/**
 * Initialises every quantizer parameter from one training batch, forwarded through the float
 * model in training mode (the EWGS rule):
 * - learned-interval: u_W = 3 sigma(W), l_W = -3 sigma(W); u_A = 3 sigma(x) / sqrt(1 - 2/pi),
 *   l_A = min(x); scale = mean|layer(Aq, W)| / mean|layer(Aq, Wq)|;
 * - LSQ: s = 2 mean|v| / sqrt(Qp) for weights and activations;
 * - PACT: alpha = max(x) on the batch (the calibrated clip of MQBench's PACT);
 * - DoReFa: nothing to learn.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  EWGS_DELTA_PARAM,
  GRAPH_FORMAT,
  GRAPH_VERSION,
  GraphExecutor,
  codeRange,
  fakeQuantActivation,
  fakeQuantWeight,
  quantParamName,
  type FakeQuantAttrs,
  type GraphNode,
  type Model,
  type WeightQuantAttrs,
  type WeightTensor,
  type Weights,
} from '@edgecompress/engine';
import { insertQuantizers, isQuantizable, type QuantizableNode } from './insert-quantizers';
import type { QuantizationConfig } from './quantization-config';

const tensorWeight = (t: tf.Tensor): WeightTensor => ({
  shape: [...t.shape],
  data: Float32Array.from(t.dataSync()),
});

/** Statistics over all elements, or per output channel of a [rows, outC] kernel view. */
function kernelMatrix(kernel: WeightTensor, node: QuantizableNode): tf.Tensor2D {
  const s = kernel.shape;
  const outC = node.op === 'depthwiseConv2d' ? s[2]! * s[3]! : s[s.length - 1]!;
  return tf.tensor2d(kernel.data, [kernel.data.length / outC, outC]);
}

function weightParams(
  node: QuantizableNode,
  attrs: WeightQuantAttrs,
  kernel: WeightTensor,
): Map<string, tf.Tensor> {
  const params = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    const w = kernelMatrix(kernel, node);
    const axis = attrs.perChannel ? 0 : undefined;
    if (attrs.quantizer === 'learned-interval') {
      const sigma = tf.sqrt(tf.moments(w, axis).variance);
      const bound = tf.maximum(tf.mul(sigma, 3), 1e-8);
      params.set('lower', tf.keep(tf.neg(bound)));
      params.set('upper', tf.keep(bound));
      params.set('scale', tf.keep(tf.scalar(1)));
    } else if (attrs.quantizer === 'lsq') {
      const [, qp] = codeRange(attrs.bits, true, true);
      const meanAbs = tf.mean(tf.abs(w), axis);
      params.set('step', tf.keep(tf.maximum(tf.div(tf.mul(meanAbs, 2), Math.sqrt(qp)), 1e-8)));
    }
  });
  return params;
}

function activationParams(attrs: FakeQuantAttrs, x: tf.Tensor): Map<string, tf.Tensor> {
  const params = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    if (attrs.quantizer === 'learned-interval') {
      const { variance } = tf.moments(x);
      const lower = tf.min(x);
      const upper = tf.div(tf.mul(tf.sqrt(variance), 3), Math.sqrt(1 - 2 / Math.PI));
      params.set('lower', tf.keep(lower));
      params.set('upper', tf.keep(tf.maximum(upper, tf.add(lower, 1e-6))));
    } else if (attrs.quantizer === 'lsq') {
      const [, qp] = codeRange(attrs.bits, attrs.signed, false);
      params.set(
        'step',
        tf.keep(tf.maximum(tf.div(tf.mul(tf.mean(tf.abs(x)), 2), Math.sqrt(qp)), 1e-8)),
      );
    } else if (attrs.quantizer === 'pact') {
      params.set('alpha', tf.keep(tf.maximum(tf.max(attrs.signed ? tf.abs(x) : x), 1e-6)));
    }
  });
  return params;
}

/** The layer alone, as a one-node model, so its output is computed exactly as the executor does. */
function singleLayer(
  node: QuantizableNode,
  inputShape: number[],
  outputShape: readonly number[],
  kernel: WeightTensor,
): Model {
  const layer = structuredClone(node) as QuantizableNode;
  layer.inputs = ['x'];
  delete layer.attrs.weightQuant;
  layer.attrs.useBias = false;
  // Flattened so the output validates as [numClasses] "logits".
  const nodes: GraphNode[] = [
    { id: 'x', op: 'input', inputs: [], attrs: { shape: inputShape } },
    layer,
    { id: 'flat', op: 'flatten', inputs: [layer.id], attrs: {} },
  ];
  return {
    graph: {
      format: GRAPH_FORMAT,
      version: GRAPH_VERSION,
      name: 'layer',
      architecture: 'layer',
      inputShape,
      numClasses: outputShape.reduce((a, b) => a * b, 1),
      nodes,
      output: 'flat',
    },
    weights: new Map([[`${layer.id}/kernel`, kernel]]),
  };
}

function meanAbsOutput(
  node: QuantizableNode,
  x: tf.Tensor,
  outputShape: readonly number[],
  kernel: WeightTensor,
): number {
  const ex = new GraphExecutor(singleLayer(node, x.shape.slice(1), outputShape, kernel));
  try {
    const { logits } = ex.forward(x as tf.Tensor4D, { training: false });
    const v = tf.tidy(() => tf.mean(tf.abs(logits)).dataSync()[0]!);
    logits.dispose();
    return v;
  } finally {
    ex.dispose();
  }
}

/**
 * Inserts quantizers into a float model and initialises them on `batch` (NHWC images of the
 * training split, count = images.length / sample size). Returns the quantized student.
 */
export function quantizeModel(
  floatModel: Model,
  config: QuantizationConfig,
  batch: Float32Array,
): Model {
  const marked = insertQuantizers(floatModel, config);
  const { graph } = marked;
  const perSample = graph.inputShape.reduce((a, b) => a * b, 1);
  const count = Math.floor(batch.length / perSample);
  if (count < 2 || count * perSample !== batch.length) {
    throw new Error(
      `quantizer initialisation needs a batch of at least 2 samples of ${perSample} values, got ${batch.length} values`,
    );
  }
  const fakeQuants = graph.nodes.filter((n) => n.op === 'fakeQuant');
  const weights: Weights = new Map(marked.weights);
  const floatEx = new GraphExecutor(floatModel);
  const x = tf.tensor(batch, [count, ...graph.inputShape]);
  const { logits, captured, stateUpdates } = floatEx.forward(x as tf.Tensor4D, {
    training: true,
    capture: fakeQuants.map((n) => n.inputs[0]!),
  });
  logits.dispose();
  for (const t of stateUpdates.values()) t.dispose();
  const shapes = floatEx.shapes;
  floatEx.dispose();
  x.dispose();
  const quantizedInputs = new Map<string, tf.Tensor>();
  try {
    for (const node of fakeQuants) {
      if (node.op !== 'fakeQuant') continue;
      const input = captured.get(node.inputs[0]!)!;
      const params = activationParams(node.attrs, input);
      if (config.ewgs) params.set(EWGS_DELTA_PARAM, tf.scalar(0));
      for (const [name, t] of params)
        weights.set(quantParamName(node.id, name, false), tensorWeight(t));
      quantizedInputs.set(node.id, fakeQuantActivation(input, node.attrs, params, node.id));
      for (const t of params.values()) t.dispose();
    }
    for (const node of graph.nodes) {
      if (!isQuantizable(node) || !node.attrs.weightQuant) continue;
      const attrs = node.attrs.weightQuant;
      const kernel = weights.get(`${node.id}/kernel`)!;
      const params = weightParams(node, attrs, kernel);
      if (attrs.quantizer === 'learned-interval') {
        const aq = quantizedInputs.get(node.inputs[0]!)!;
        const kernelT = tf.tensor(kernel.data, kernel.shape);
        const unitQ = fakeQuantWeight(kernelT, attrs, params, node.id);
        const out = shapes.get(node.id)!;
        const ratio =
          meanAbsOutput(node, aq, out, kernel) / meanAbsOutput(node, aq, out, tensorWeight(unitQ));
        kernelT.dispose();
        unitQ.dispose();
        params.get('scale')!.dispose();
        params.set('scale', tf.scalar(Number.isFinite(ratio) && ratio > 0 ? ratio : 1));
      }
      if (config.ewgs) params.set(EWGS_DELTA_PARAM, tf.scalar(0));
      for (const [name, t] of params)
        weights.set(quantParamName(node.id, name, true), tensorWeight(t));
      for (const t of params.values()) t.dispose();
    }
  } finally {
    for (const t of captured.values()) t.dispose();
    for (const t of quantizedInputs.values()) t.dispose();
  }
  return { graph, weights };
}
