/**
 * Output shape of every node (batch dimension omitted), inferred from the graph alone.
 * Pruning needs it for the flatten index map and for FLOP counting.
 */
import type { Graph, GraphNode, Pads, Pair } from '@edgecompress/engine';

export type ShapeMap = Map<string, number[]>;

function spatialOut(size: number, k: number, s: number, padA: number, padB: number, d = 1): number {
  return Math.floor((size + padA + padB - d * (k - 1) - 1) / s) + 1;
}

function windowOut(
  inShape: number[],
  kernel: Pair,
  strides: Pair,
  pads: Pads,
  dilations: Pair,
  channels: number,
): number[] {
  const [h, w] = inShape as [number, number, number];
  return [
    spatialOut(h, kernel[0], strides[0], pads[0], pads[1], dilations[0]),
    spatialOut(w, kernel[1], strides[1], pads[2], pads[3], dilations[1]),
    channels,
  ];
}

export function inferShapes(graph: Graph): ShapeMap {
  const shapes: ShapeMap = new Map();
  const inputOf = (node: GraphNode, i = 0): number[] => {
    const shape = shapes.get(node.inputs[i] ?? '');
    if (!shape) throw new Error(`node "${node.id}" reads unknown input "${node.inputs[i]}"`);
    return shape;
  };
  for (const node of graph.nodes) {
    let out: number[];
    switch (node.op) {
      case 'input':
        out = [...node.attrs.shape];
        break;
      case 'conv2d': {
        const a = node.attrs;
        out = windowOut(inputOf(node), a.kernelSize, a.strides, a.pads, a.dilations, a.filters);
        break;
      }
      case 'depthwiseConv2d': {
        const a = node.attrs;
        const inShape = inputOf(node);
        const c = inShape[2]! * a.depthMultiplier;
        out = windowOut(inShape, a.kernelSize, a.strides, a.pads, a.dilations, c);
        break;
      }
      case 'maxPool':
      case 'avgPool': {
        const a = node.attrs;
        const inShape = inputOf(node);
        out = windowOut(inShape, a.poolSize, a.strides, a.pads, [1, 1], inShape[2]!);
        break;
      }
      case 'globalAvgPool': {
        const inShape = inputOf(node);
        out = [inShape[inShape.length - 1]!];
        break;
      }
      case 'flatten':
        out = [inputOf(node).reduce((a, b) => a * b, 1)];
        break;
      case 'dense':
        out = [node.attrs.units];
        break;
      case 'concat': {
        const parts = node.inputs.map((_, i) => inputOf(node, i));
        const first = parts[0]!;
        out = [...first.slice(0, -1), parts.reduce((s, p) => s + p[p.length - 1]!, 0)];
        break;
      }
      default:
        out = [...inputOf(node)];
    }
    shapes.set(node.id, out);
  }
  return shapes;
}
