/**
 * Quantized ONNX export.
 *
 * - Post-training int8 (any float model): weights int8, symmetric, per output channel; biases
 *   int32 at scale s_in * s_w; activations uint8/int8 per tensor from ranges observed on a few
 *   calibration batches (static QDQ). ORT fuses the pairs into integer kernels (QLinearConv...).
 * - Quantization-aware models (IR `weightQuant` / `fakeQuant`, e.g. from SQAKD): each marked
 *   kernel is stored at its own bit width (8: int8 QDQ; 4: int4 QDQ, opset 21; 2-3: bit-packed,
 *   see packed-weights.ts); each fakeQuant node becomes a QDQ pair on its grid; unmarked layers
 *   (first conv, classifier) stay float.
 * BatchNorm is folded into convs before weights are quantized (per-channel grids survive it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initEngineBackend } from '../backend';
import type { GraphNode, Model, Weights } from '../graph/ir';
import {
  EWGS_DELTA_PARAM,
  activationQuantParamNames,
  activationQuantRange,
  fakeQuantWeight,
  quantParamName,
  weightQuantParamNames,
} from '../quant';
import { foldBatchNorms } from './batch-norm-fold';
import { META } from './onnx-metadata';
import {
  exportOnnx,
  packIntegers,
  type ActivationQdq,
  type OnnxEmitter,
  type OnnxExportOptions,
  type WeightEncoder,
} from './onnx-export';
import { decodeOnnxModel } from './onnx-guard';
import {
  FLOAT_OPSET,
  INT4_OPSET,
  OnnxDataType,
  attrInt,
  encodeModel,
  floatTensor,
} from './onnx-schema';
import { observeRanges, type CalibrationSet, type TensorRange } from './ort-calibration';
import { packedWeightEncoder, type PackedWeightEntry } from './packed-weights';

export interface QuantizedExportOptions extends Pick<
  OnnxExportOptions,
  'metadata' | 'extraMetadata'
> {
  /**
   * A few batches of training data for activation ranges. Needed for post-training export and
   * for fakeQuant nodes without `activationRange`; a weights-only quantized model needs none.
   */
  calibration?: CalibrationSet;
  /** Bits of conv/dense weights in post-training mode (model without quantization marks); default 8. */
  weightBits?: 8 | 4;
  /**
   * The kernel a marked layer really uses (its fake-quantized kernel, tfjs layout). Default: the
   * engine's quantizer (libs/engine/src/quant) applied with the layer's learned parameters.
   */
  quantizedKernel?: (node: GraphNode, model: Model) => Float32Array | undefined;
  /**
   * A fakeQuant node's grid range. Default: from the quantizer's learned parameters; a node without
   * them gets the range observed on the calibration set.
   */
  activationRange?: (node: GraphNode, model: Model) => TensorRange | undefined;
}

export interface QuantizationReport {
  mode: 'post-training' | 'quantization-aware';
  opset: number;
  /** Storage of each quantized kernel. */
  weights: Record<string, { bits: number; storage: 'int8-qdq' | 'int4-qdq' | 'packed' }>;
  /** QDQ pairs on activations: node id -> bits, scale, zero point. */
  activations: Record<string, { bits: number; scale: number; zeroPoint: number }>;
}

export interface QuantizedExport {
  bytes: Uint8Array;
  report: QuantizationReport;
}

const isMarked = (n: GraphNode): boolean =>
  n.op === 'fakeQuant' ||
  ((n.op === 'conv2d' || n.op === 'depthwiseConv2d' || n.op === 'dense') &&
    Boolean(n.attrs.weightQuant));

export function hasQuantizationMarks(model: Model): boolean {
  return model.graph.nodes.some(isMarked);
}

/** Nodes whose output the next op folds into itself (conv -> relu): QDQ only after the relu. */
function fusedIntoConsumer(node: GraphNode, consumers: Map<string, GraphNode[]>): boolean {
  const users = consumers.get(node.id) ?? [];
  return (
    (node.op === 'conv2d' ||
      node.op === 'depthwiseConv2d' ||
      node.op === 'dense' ||
      node.op === 'add') &&
    users.length === 1 &&
    (users[0]!.op === 'relu' || users[0]!.op === 'relu6')
  );
}

/** uint8 (or int8 for signed ranges) affine grid of `bits` levels covering [min, max] and zero. */
export function activationGrid(range: TensorRange, bits: number, signed = false): ActivationQdq {
  const lo = Math.min(0, range.min);
  const hi = Math.max(0, range.max, lo + 1e-8);
  const levels = 2 ** bits - 1;
  const scale = (hi - lo) / levels;
  // Zero must be exactly representable (ReLU outputs, zero padding).
  const zeroCode = Math.min(levels, Math.max(0, Math.round(-lo / scale)));
  if (signed) {
    // int8 storage, codes [-128, -128 + levels]
    const zeroPoint = zeroCode - 128;
    return {
      scale,
      zeroPoint,
      dataType: OnnxDataType.INT8,
      ...(bits < 8
        ? { clip: [scale * (-128 - zeroPoint), scale * (-128 + levels - zeroPoint)] }
        : {}),
    };
  }
  return {
    scale,
    zeroPoint: zeroCode,
    dataType: OnnxDataType.UINT8,
    ...(bits < 8 ? { clip: [-scale * zeroCode, scale * (levels - zeroCode)] } : {}),
  };
}

/** Symmetric per-output-channel integer codes of `bits` (int8: [-127, 127]; int4: [-7, 7]). */
export function symmetricChannelCodes(
  data: Float32Array,
  channels: number,
  bits: number,
): { codes: Int32Array; scales: Float32Array; maxError: number } {
  const per = data.length / channels;
  const qmax = 2 ** (bits - 1) - 1;
  const codes = new Int32Array(data.length);
  const scales = new Float32Array(channels);
  let maxError = 0;
  for (let c = 0; c < channels; c++) {
    const values = data.subarray(c * per, (c + 1) * per);
    const s = symmetricStep(values, qmax);
    scales[c] = s;
    for (let i = 0; i < per; i++) {
      const k = Math.max(-qmax, Math.min(qmax, Math.round(values[i]! / s)));
      codes[c * per + i] = k;
      maxError = Math.max(maxError, Math.abs(k * s - values[i]!));
    }
  }
  return { codes, scales, maxError };
}

/**
 * Step of the symmetric grid holding `values`: a fake-quantized channel keeps its own step even
 * when no weight reaches the largest code (its clip bound lies beyond its weights); any other
 * channel gets max|w| / qmax.
 */
function symmetricStep(values: Float32Array, qmax: number): number {
  let amax = 0;
  for (const v of values) amax = Math.max(amax, Math.abs(v));
  if (amax === 0) return 1;
  const magnitudes = [...new Set(Array.from(values, Math.abs))]
    .filter((v) => v > 0)
    .sort((a, b) => a - b);
  if (magnitudes.length <= qmax) {
    let step = magnitudes[0]!;
    for (let i = 1; i < magnitudes.length; i++)
      step = Math.min(step, magnitudes[i]! - magnitudes[i - 1]!);
    const k = Math.round(amax / step);
    const refined = amax / k;
    if (
      k <= qmax &&
      magnitudes.every((v) => Math.abs(v / refined - Math.round(v / refined)) < 1e-3)
    )
      return refined;
  }
  return amax / qmax;
}

function qdqWeightEncoder(
  bits: 8 | 4,
  scalesOut: Map<string, Float32Array>,
  nodeId: string,
): WeightEncoder {
  return (emit: OnnxEmitter, name: string, dims: number[], data: Float32Array) => {
    const { codes, scales } = symmetricChannelCodes(data, dims[0]!, bits);
    scalesOut.set(nodeId, scales);
    const type = bits === 8 ? OnnxDataType.INT8 : OnnxDataType.INT4;
    emit.initializer({
      name: `${name}::q`,
      dims,
      dataType: type,
      rawData: packIntegers(codes, type),
    });
    emit.initializer(floatTensor(`${name}::scale`, [dims[0]!], scales));
    emit.initializer({
      name: `${name}::zero_point`,
      dims: [dims[0]!],
      dataType: type,
      rawData: packIntegers(new Array<number>(dims[0]!).fill(0), type),
    });
    emit.node(
      'DequantizeLinear',
      `${name}::dequantize`,
      [`${name}::q`, `${name}::scale`, `${name}::zero_point`],
      [name],
      [attrInt('axis', 0)],
    );
    return name;
  };
}

/** int32 bias at scale s_in * s_w[c] (what ORT's integer kernels accumulate in). */
function int32BiasEncoder(
  inputScale: number,
  weightScales: Map<string, Float32Array>,
  nodeId: string,
): WeightEncoder {
  return (emit: OnnxEmitter, name: string, dims: number[], data: Float32Array) => {
    const ws = weightScales.get(nodeId);
    if (!ws) throw new Error(`bias of "${nodeId}" encoded before its kernel`);
    const scales = ws.map((s) => s * inputScale);
    const codes = new Int32Array(data.length);
    for (let c = 0; c < data.length; c++) codes[c] = Math.round(data[c]! / scales[c]!);
    emit.initializer({
      name: `${name}::q`,
      dims,
      dataType: OnnxDataType.INT32,
      rawData: new Uint8Array(codes.buffer),
    });
    emit.initializer(floatTensor(`${name}::scale`, dims, scales));
    emit.initializer({
      name: `${name}::zero_point`,
      dims,
      dataType: OnnxDataType.INT32,
      rawData: new Uint8Array(new Int32Array(dims[0]!).buffer),
    });
    emit.node(
      'DequantizeLinear',
      `${name}::dequantize`,
      [`${name}::q`, `${name}::scale`, `${name}::zero_point`],
      [name],
      [attrInt('axis', 0)],
    );
    return name;
  };
}

/** The engine's own fake-quantized kernel (libs/engine/src/quant), as the executor computes it. */
export function engineQuantizedKernel(node: GraphNode, model: Model): Float32Array | undefined {
  if (node.op !== 'conv2d' && node.op !== 'depthwiseConv2d' && node.op !== 'dense')
    return undefined;
  const attrs = node.attrs.weightQuant;
  if (!attrs) return undefined;
  const kernel = model.weights.get(`${node.id}/kernel`)!;
  const required = weightQuantParamNames(attrs);
  // Not initialised (no learned parameters yet): the exporter quantizes the float kernel itself.
  if (required.some((name) => !model.weights.has(quantParamName(node.id, name, true))))
    return undefined;
  return tf.tidy(() => {
    const params = new Map<string, tf.Tensor>();
    for (const name of [...required, EWGS_DELTA_PARAM]) {
      const w = model.weights.get(quantParamName(node.id, name, true));
      if (w) params.set(name, tf.tensor(w.data, w.shape));
    }
    const q = fakeQuantWeight(tf.tensor(kernel.data, kernel.shape), attrs, params, node.id);
    return q.dataSync() as Float32Array;
  });
}

/** A fakeQuant node's grid from its quantizer parameters, when the model holds them. */
export function engineActivationRange(node: GraphNode, model: Model): TensorRange | undefined {
  if (node.op !== 'fakeQuant') return undefined;
  const names = activationQuantParamNames(node.attrs);
  const params = new Map<string, { data: Float32Array }>();
  for (const name of names) {
    const w = model.weights.get(quantParamName(node.id, name, false));
    if (!w) return undefined; // not initialised: calibrate instead
    params.set(name, w);
  }
  return activationQuantRange(node.attrs, params);
}

/** Computing fake-quantized kernels needs a tfjs backend: the engine's, unless one is running. */
async function ensureBackend(): Promise<void> {
  if (!tf.engine().backendName) await initEngineBackend();
}

function consumersMap(nodes: GraphNode[]): Map<string, GraphNode[]> {
  const map = new Map<string, GraphNode[]>();
  for (const n of nodes) for (const i of n.inputs) map.set(i, [...(map.get(i) ?? []), n]);
  return map;
}

export async function exportQuantizedOnnx(
  input: Model,
  options: QuantizedExportOptions = {},
): Promise<QuantizedExport> {
  const aware = hasQuantizationMarks(input);
  // Marked kernels take the values the quantized forward pass uses, before BN folding.
  let weights: Weights = input.weights;
  if (aware) {
    await ensureBackend();
    const quantizedKernel = options.quantizedKernel ?? engineQuantizedKernel;
    weights = new Map(input.weights);
    for (const node of input.graph.nodes) {
      if (node.op === 'fakeQuant' || !isMarked(node)) continue;
      const q = quantizedKernel(node, input);
      const kernel = input.weights.get(`${node.id}/kernel`)!;
      if (q) {
        if (q.length !== kernel.data.length)
          throw new Error(
            `quantized kernel of "${node.id}" has ${q.length} values, expected ${kernel.data.length}`,
          );
        weights.set(`${node.id}/kernel`, { shape: [...kernel.shape], data: q });
      }
    }
  }
  const activationRange = options.activationRange ?? engineActivationRange;
  const model = foldBatchNorms({ graph: input.graph, weights });
  const { graph } = model;
  const consumers = consumersMap(graph.nodes);

  // Which activations get a QDQ pair, with how many bits.
  const activationBits = new Map<string, { bits: number; signed: boolean }>();
  for (const node of graph.nodes) {
    if (node.id === graph.output) continue;
    if (aware) {
      if (node.op === 'fakeQuant')
        activationBits.set(node.id, { bits: node.attrs.bits, signed: node.attrs.signed });
    } else if (node.op !== 'softmax' && !fusedIntoConsumer(node, consumers)) {
      activationBits.set(node.id, { bits: 8, signed: false });
    }
  }

  // Ranges: given by the quantizer, else observed on the calibration set with a float copy.
  const toObserve = [...activationBits.keys()].filter((id) => {
    const node = graph.nodes.find((n) => n.id === id)!;
    return !(node.op === 'fakeQuant' && activationRange(node, model));
  });
  let ranges = new Map<string, TensorRange>();
  if (toObserve.length > 0) {
    if (!options.calibration) {
      throw new Error(
        `quantized export needs calibration data for the ranges of ${toObserve.length} activations (${toObserve.slice(0, 3).join(', ')}, ...)`,
      );
    }
    const floatCopy = exportOnnx(model, { foldBatchNorm: false, fakeQuantAsIdentity: true });
    ranges = await observeRanges(floatCopy, toObserve, options.calibration, graph.inputShape);
  }
  const activationQdq = new Map<string, ActivationQdq>();
  const report: QuantizationReport = {
    mode: aware ? 'quantization-aware' : 'post-training',
    opset: FLOAT_OPSET,
    weights: {},
    activations: {},
  };
  for (const [id, { bits, signed }] of activationBits) {
    const node = graph.nodes.find((n) => n.id === id)!;
    const range = (node.op === 'fakeQuant' && activationRange(node, model)) || ranges.get(id)!;
    const spec = activationGrid(range, bits, signed);
    activationQdq.set(id, spec);
    report.activations[id] = { bits, scale: spec.scale, zeroPoint: spec.zeroPoint };
  }

  const weightEncoders = new Map<string, WeightEncoder>();
  const biasEncoders = new Map<string, WeightEncoder>();
  const weightScales = new Map<string, Float32Array>();
  const packed: PackedWeightEntry[] = [];
  for (const node of graph.nodes) {
    if (node.op !== 'conv2d' && node.op !== 'depthwiseConv2d' && node.op !== 'dense') continue;
    const bits = aware ? node.attrs.weightQuant?.bits : (options.weightBits ?? 8);
    if (!bits) continue;
    if (bits >= 8) {
      weightEncoders.set(node.id, qdqWeightEncoder(8, weightScales, node.id));
      report.weights[node.id] = { bits: 8, storage: 'int8-qdq' };
      const inputQdq = activationQdq.get(node.inputs[0]!);
      if (inputQdq && node.attrs.useBias)
        biasEncoders.set(node.id, int32BiasEncoder(inputQdq.scale, weightScales, node.id));
    } else if (bits === 4) {
      weightEncoders.set(node.id, qdqWeightEncoder(4, weightScales, node.id));
      report.weights[node.id] = { bits: 4, storage: 'int4-qdq' };
      report.opset = INT4_OPSET;
    } else {
      weightEncoders.set(node.id, packedWeightEncoder(bits, packed));
      report.weights[node.id] = { bits, storage: 'packed' };
    }
  }

  const extra: Record<string, string> = {
    ...(options.extraMetadata ?? {}),
    [META.quantization]: JSON.stringify(report),
  };
  // The packed-weight list is filled while the graph is written; its metadata goes in afterwards.
  const bytes = exportOnnx(model, {
    foldBatchNorm: false,
    opset: report.opset,
    weightEncoders,
    biasEncoders,
    activationQdq,
    extraMetadata: extra,
    ...(options.metadata ? { metadata: options.metadata } : {}),
  });
  if (packed.length === 0) return { bytes, report };
  return { bytes: withPackedMetadata(bytes, packed), report };
}

function withPackedMetadata(bytes: Uint8Array, entries: PackedWeightEntry[]): Uint8Array {
  const proto = decodeOnnxModel(bytes);
  proto.metadataProps.push({ key: META.packedWeights, value: JSON.stringify(entries) });
  return encodeModel(proto);
}
