import { inferShapes, weightSpecs, type Graph, type OpType } from '../graph';

/** Cost of one node. MACs count multiply-accumulates of conv and dense layers; FLOPs = 2 x MACs. */
export interface LayerCost {
  nodeId: string;
  op: OpType;
  outputShape: number[];
  /** Trainable parameters (kernels, biases, BN gamma/beta); BN running statistics excluded. */
  params: number;
  macs: number;
  flops: number;
  /** Storage of this node's weights: kernels at their quantized bit width, all else float32. */
  bytes: number;
}

export interface ModelCost {
  params: number;
  /** BN running mean/variance values: stored in the model file but not trained. */
  stateValues: number;
  macs: number;
  flops: number;
  /**
   * Weight storage in bytes: kernels of weight-quantized layers at `bits` per value (packed),
   * everything else (biases, BN parameters and running statistics) as float32. Quantizer
   * parameters and file-format overhead are not included.
   */
  bytes: number;
  layers: LayerCost[];
}

/**
 * Parameters, MACs and FLOPs of a graph for one input (batch 1), computed from shapes alone, so
 * a pruning search can price a candidate before building its weights.
 *
 * Convention (the one published figures use): MACs are the multiply-accumulates of conv,
 * depthwise and dense layers; BN, activations, pooling, additions and biases add none.
 * FLOPs are reported as 2 x MACs. Parameters count kernels, biases and BN gamma/beta; quantizer
 * parameters and BN running statistics are not parameters.
 */
export function countModelCost(graph: Graph): ModelCost {
  const shapes = inferShapes(graph);
  const layers: LayerCost[] = [];
  let params = 0;
  let stateValues = 0;
  let macs = 0;
  let bytes = 0;
  for (const node of graph.nodes) {
    const inputShapes = node.inputs.map((id) => shapes.get(id)!);
    const outputShape = shapes.get(node.id)!;
    let layerParams = 0;
    let layerBits = 0;
    const kernelBits =
      'weightQuant' in node.attrs && node.attrs.weightQuant ? node.attrs.weightQuant.bits : 32;
    for (const spec of weightSpecs(node, inputShapes)) {
      const size = spec.shape!.reduce((a, b) => a * b, 1);
      if (spec.kind === 'state') stateValues += size;
      else layerParams += size;
      layerBits += size * (spec.role === 'kernel' ? kernelBits : 32);
    }
    const layerBytes = Math.ceil(layerBits / 8);
    const layerMacs = nodeMacs(node.op, node.attrs, inputShapes[0] ?? [], outputShape);
    layers.push({
      nodeId: node.id,
      op: node.op,
      outputShape,
      params: layerParams,
      macs: layerMacs,
      flops: 2 * layerMacs,
      bytes: layerBytes,
    });
    bytes += layerBytes;
    params += layerParams;
    macs += layerMacs;
  }
  return { params, stateValues, macs, flops: 2 * macs, bytes, layers };
}

function nodeMacs(op: OpType, attrs: unknown, input: number[], output: number[]): number {
  const spatial = (output[0] ?? 1) * (output[1] ?? 1);
  if (op === 'conv2d') {
    const { kernelSize, groups, filters } = attrs as {
      kernelSize: [number, number];
      groups: number;
      filters: number;
    };
    return spatial * filters * kernelSize[0] * kernelSize[1] * (input[2] / groups);
  }
  if (op === 'depthwiseConv2d') {
    const { kernelSize } = attrs as { kernelSize: [number, number] };
    return spatial * output[2] * kernelSize[0] * kernelSize[1];
  }
  if (op === 'dense') return input[0] * output[0];
  return 0;
}

/** "0.27 M", "40.8 M", "1.2 G": a compact figure for reports and progress lines. */
export function formatCount(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} G`;
  if (value >= 1e5) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return String(value);
}
