/**
 * Parameters, FLOPs and bytes of a model, counted the same way before and after pruning.
 * - params: kernels, biases, BN gamma/beta (what an optimiser trains; BN running stats and
 *   quantizer parameters excluded).
 * - FLOPs: 2 x multiply-accumulates of conv2d, depthwiseConv2d and dense layers.
 * - sizeBytes: every stored weight as float32 (the fp32 artifact payload).
 */
import type { Graph, Model } from '@edgecompress/engine';
import { inferShapes } from './graph-shapes';

export interface ModelCost {
  params: number;
  flops: number;
  sizeBytes: number;
}

const TRAINED_ROLES = new Set(['kernel', 'bias', 'gamma', 'beta']);

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** FLOPs of each compute node (conv, depthwise, dense); other nodes are free. */
export function nodeFlops(graph: Graph): Map<string, number> {
  const shapes = inferShapes(graph);
  const flops = new Map<string, number>();
  for (const node of graph.nodes) {
    const out = shapes.get(node.id)!;
    const inShape = shapes.get(node.inputs[0] ?? '') ?? [];
    if (node.op === 'conv2d') {
      const a = node.attrs;
      const inC = inShape[inShape.length - 1]! / a.groups;
      flops.set(node.id, 2 * numel(out) * a.kernelSize[0] * a.kernelSize[1] * inC);
    } else if (node.op === 'depthwiseConv2d') {
      const a = node.attrs;
      flops.set(node.id, 2 * numel(out) * a.kernelSize[0] * a.kernelSize[1]);
    } else if (node.op === 'dense') {
      flops.set(node.id, 2 * inShape[0]! * node.attrs.units);
    }
  }
  return flops;
}

/** Trained parameter count of each node. */
export function nodeParams(model: Model): Map<string, number> {
  const params = new Map<string, number>();
  for (const [name, tensor] of model.weights) {
    const slash = name.lastIndexOf('/');
    const role = name.slice(slash + 1);
    if (!TRAINED_ROLES.has(role)) continue;
    const node = name.slice(0, slash);
    params.set(node, (params.get(node) ?? 0) + numel(tensor.shape));
  }
  return params;
}

export function modelCost(model: Model): ModelCost {
  let params = 0;
  for (const n of nodeParams(model).values()) params += n;
  let flops = 0;
  for (const f of nodeFlops(model.graph).values()) flops += f;
  let sizeBytes = 0;
  for (const t of model.weights.values()) sizeBytes += 4 * numel(t.shape);
  return { params, flops, sizeBytes };
}
