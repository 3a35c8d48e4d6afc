/**
 * What each graph node asks of the hardware for one inference: arithmetic operations, bytes
 * moved to and from memory, and whether ONNX Runtime fuses it into its producer (so it costs no
 * separate pass over memory and no per-op overhead). Shapes come from the engine's shape
 * inference, so any valid engine Graph can be priced without weights.
 */
import { inferShapes, type Graph, type GraphNode } from '@edgecompress/engine';
import type { Precision } from './device-profile.schema';

export interface LayerWorkload {
  nodeId: string;
  op: GraphNode['op'];
  precision: Precision;
  /** Arithmetic operations (a multiply-accumulate counts 2). */
  ops: number;
  /** Activation and weight bytes read plus bytes written. */
  bytes: number;
  /** Folded into the producing layer by graph optimisation: no memory pass, no dispatch. */
  fused: boolean;
  /** Zero-cost view ops (input, flatten) that dispatch nothing. */
  free: boolean;
}

export interface WorkloadOptions {
  /** Batch size of one inference. Default 1. */
  batch?: number;
  /**
   * Arithmetic precision. `auto` (default): int8 for layers with weight quantization of at most 8
   * bits, fp32 elsewhere; a fixed value applies to every layer.
   */
  precision?: Precision | 'auto';
}

const BYTES: Record<Precision, number> = { fp32: 4, fp16: 2, int8: 1 };

/** Ops ORT folds into the preceding conv/dense (Conv+BN folding, Conv+activation fusion, QDQ). */
const FUSABLE = new Set<GraphNode['op']>(['batchNorm', 'relu', 'relu6', 'fakeQuant']);
const FUSION_HOSTS = new Set<GraphNode['op']>(['conv2d', 'depthwiseConv2d', 'dense']);

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function layerPrecision(node: GraphNode, requested: Precision | 'auto'): Precision {
  if (requested !== 'auto') return requested;
  if (node.op === 'conv2d' || node.op === 'depthwiseConv2d' || node.op === 'dense') {
    const bits = node.attrs.weightQuant?.bits;
    if (bits !== undefined && bits <= 8) return 'int8';
  }
  return 'fp32';
}

/** Per-node workload of `graph`, in graph order. Throws the engine's GraphError on an invalid graph. */
export function graphWorkload(graph: Graph, options: WorkloadOptions = {}): LayerWorkload[] {
  const batch = options.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`invalid batch size ${batch}`);
  const requested = options.precision ?? 'auto';
  const shapes = inferShapes(graph);
  const consumers = new Map<string, number>();
  for (const node of graph.nodes)
    for (const id of node.inputs) consumers.set(id, (consumers.get(id) ?? 0) + 1);

  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  /** Node ids whose output is produced inside a fused chain rooted at a conv/dense. */
  const fusedChain = new Set<string>();
  const precisionOf = new Map<string, Precision>();
  const out: LayerWorkload[] = [];

  for (const node of graph.nodes) {
    const outElems = batch * product(shapes.get(node.id) ?? []);
    const inShapes = node.inputs.map((id) => shapes.get(id) ?? []);
    const inElems = inShapes.map((s) => batch * product(s));
    const producer = node.inputs.length === 1 ? byId.get(node.inputs[0] as string) : undefined;
    const inheritsPrecision = producer ? precisionOf.get(producer.id) : undefined;
    const precision =
      FUSABLE.has(node.op) && inheritsPrecision && requested === 'auto'
        ? inheritsPrecision
        : layerPrecision(node, requested);
    precisionOf.set(node.id, precision);
    const act = BYTES[precision];
    const readAll = inElems.reduce((a, b) => a + b, 0) * act;
    const write = outElems * act;

    let ops = 0;
    let bytes = 0;
    let fused = false;
    let free = false;
    switch (node.op) {
      case 'input':
      case 'flatten':
        free = true;
        break;
      case 'conv2d': {
        const [kh, kw] = node.attrs.kernelSize;
        const inC = inShapes[0]?.[2] ?? 0;
        const weights = kh * kw * (inC / node.attrs.groups) * node.attrs.filters;
        ops = 2 * outElems * kh * kw * (inC / node.attrs.groups);
        bytes = readAll + write + weightBytes(node, weights, precision);
        break;
      }
      case 'depthwiseConv2d': {
        const [kh, kw] = node.attrs.kernelSize;
        const outC = shapes.get(node.id)?.[2] ?? 0;
        ops = 2 * outElems * kh * kw;
        bytes = readAll + write + weightBytes(node, kh * kw * outC, precision);
        break;
      }
      case 'dense': {
        const inF = inShapes[0]?.[0] ?? 0;
        ops = 2 * batch * inF * node.attrs.units;
        bytes = readAll + write + weightBytes(node, inF * node.attrs.units, precision);
        break;
      }
      case 'maxPool':
      case 'avgPool':
        ops = outElems * node.attrs.poolSize[0] * node.attrs.poolSize[1];
        bytes = readAll + write;
        break;
      case 'globalAvgPool':
        ops = inElems[0] ?? 0;
        bytes = readAll + write;
        break;
      case 'add':
        ops = outElems * Math.max(1, node.inputs.length - 1);
        bytes = readAll + write;
        break;
      case 'concat':
        bytes = readAll + write;
        break;
      case 'softmax':
        ops = 5 * outElems;
        bytes = readAll + write;
        break;
      case 'batchNorm':
      case 'relu':
      case 'relu6':
      case 'fakeQuant':
        ops = (node.op === 'batchNorm' ? 2 : 1) * outElems;
        bytes = readAll + write;
        // Folded into the producer when the producer is a conv/dense (or already such a chain)
        // and this node is its only consumer.
        if (
          producer &&
          consumers.get(producer.id) === 1 &&
          (FUSION_HOSTS.has(producer.op) || fusedChain.has(producer.id))
        ) {
          fused = true;
          fusedChain.add(node.id);
        }
        break;
    }
    out.push({ nodeId: node.id, op: node.op, precision, ops, bytes, fused, free });
  }
  return out;
}

/** Weight bytes: packed at the quantizer's bit width when the layer has one. */
function weightBytes(node: GraphNode, count: number, precision: Precision): number {
  const bits = (node.attrs as { weightQuant?: { bits: number } }).weightQuant?.bits;
  const perWeight = bits !== undefined ? bits / 8 : BYTES[precision];
  return count * perWeight;
}
