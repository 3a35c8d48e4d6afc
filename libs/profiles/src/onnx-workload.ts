/**
 * The workload of an ONNX file as ORT runs it, including quantized (QDQ) exports the engine's
 * importer does not take: latency depends on shapes and precisions, not weight values, so the
 * quantize/dequantize pairs are dropped, quantized initializers become float stand-ins of the
 * same shape, and the layers whose weights were quantized are priced at int8.
 */
import {
  decodeOnnxModel,
  expandPackedModel,
  floatTensor,
  importOnnxModel,
  OnnxDataType,
  tensorDims,
  type Graph,
  type GraphNode,
  type onnx,
} from '@edgecompress/engine';
import { graphWorkload, type LayerWorkload } from './layer-workload';

const QDQ = new Set(['QuantizeLinear', 'DequantizeLinear']);
const WEIGHTED_ONNX = new Set(['Conv', 'Gemm', 'MatMul']);
const WEIGHTED_IR = new Set<GraphNode['op']>(['conv2d', 'depthwiseConv2d', 'dense']);
const BITS: Partial<Record<number, number>> = {
  [OnnxDataType.INT8]: 8,
  [OnnxDataType.UINT8]: 8,
  [OnnxDataType.INT4]: 4,
  [OnnxDataType.UINT4]: 4,
};

/** The engine graph of an ONNX file, QDQ stripped, with quantized layers marked. */
export function onnxGraphForLatency(bytes: Uint8Array): Graph {
  const proto = expandPackedModel(decodeOnnxModel(bytes));
  const nodes = proto.graph?.node ?? [];
  if (!nodes.some((n) => QDQ.has(n.opType ?? ''))) return importOnnxModel(proto).model.graph;
  const { stripped, quantizedLayers } = stripQdq(proto);
  const graph = importOnnxModel(stripped).model.graph;
  // The importer keeps weighted layers one to one and in order: the k-th ONNX Conv/Gemm/MatMul
  // is the k-th engine conv/dense node.
  const weighted = graph.nodes.filter((n) => WEIGHTED_IR.has(n.op));
  if (weighted.length !== quantizedLayers.length) return graph; // unusual layout: priced as float
  return {
    ...graph,
    nodes: graph.nodes.map((node) => {
      const bits = quantizedLayers[weighted.indexOf(node)];
      if (bits === undefined || bits === null || !WEIGHTED_IR.has(node.op)) return node;
      return {
        ...node,
        attrs: { ...node.attrs, weightQuant: { quantizer: 'lsq', bits, perChannel: true } },
      } as GraphNode;
    }),
  };
}

/** Per-layer workload of an ONNX file (float, packed or QDQ). */
export function onnxWorkload(bytes: Uint8Array): LayerWorkload[] {
  return graphWorkload(onnxGraphForLatency(bytes));
}

function stripQdq(proto: onnx.IModelProto): {
  stripped: onnx.IModelProto;
  /** Per weighted ONNX layer in node order: the bits of its quantized weight, or null. */
  quantizedLayers: (number | null)[];
} {
  const graph = proto.graph as onnx.IGraphProto;
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const replaced = new Map<string, onnx.ITensorProto>();
  const bitsOf = new Map<string, number>();
  const nodes: onnx.INodeProto[] = [];
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    const [x] = node.input ?? [];
    const [y] = node.output ?? [];
    if (!QDQ.has(op) || x === undefined || y === undefined) {
      nodes.push(node);
      continue;
    }
    const constant = initializers.get(x);
    if (op === 'DequantizeLinear' && constant) {
      // A quantized weight or bias: a float tensor of its shape stands in (values do not matter).
      const { dims } = tensorDims(constant);
      const size = dims.reduce((a, b) => a * b, 1);
      replaced.set(y, floatTensor(y, dims, new Float32Array(size)));
      const bits = BITS[constant.dataType ?? -1];
      if (bits !== undefined) bitsOf.set(y, bits);
      continue;
    }
    // An activation quantize or dequantize: pass the tensor through.
    nodes.push({ name: node.name, opType: 'Identity', input: [x], output: [y] });
  }
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  const stripped: onnx.IModelProto = {
    ...proto,
    graph: {
      ...graph,
      node: nodes,
      // Older files list initializers among the inputs too; a dropped one must not look like one.
      input: (graph.input ?? []).filter(
        (i) => !initializers.has(i.name ?? '') || used.has(i.name ?? ''),
      ),
      initializer: [
        ...(graph.initializer ?? []).filter((t) => used.has(t.name ?? '')),
        ...replaced.values(),
      ],
    },
  };
  const quantizedLayers = nodes
    .filter((n) => WEIGHTED_ONNX.has(n.opType ?? ''))
    .map((n) => bitsOf.get((n.input ?? [])[1] ?? '') ?? null);
  return { stripped, quantizedLayers };
}
