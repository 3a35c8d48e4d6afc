/**
 * Output shape of every IR node (batch omitted, NHWC), as the exporter needs spatial sizes to
 * reorder dense rows after a flatten and the importer needs them to check what it built.
 */
import type { Graph, GraphNode, Pads, Pair } from '../graph/ir';

function window(
  size: number,
  k: number,
  s: number,
  padBefore: number,
  padAfter: number,
  d = 1,
): number {
  return Math.floor((size + padBefore + padAfter - d * (k - 1) - 1) / s) + 1;
}

function spatial(
  shape: readonly number[],
  k: Pair,
  s: Pair,
  p: Pads,
  d: Pair,
  channels: number,
): number[] {
  const [h, w] = shape as [number, number];
  return [
    window(h, k[0], s[0], p[0], p[1], d[0]),
    window(w, k[1], s[1], p[2], p[3], d[1]),
    channels,
  ];
}

export function inferShapes(graph: Graph): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const shapeOf = (id: string): number[] => {
    const s = shapes.get(id);
    if (!s) throw new Error(`node input "${id}" is not produced by an earlier node`);
    return s;
  };
  for (const node of graph.nodes) shapes.set(node.id, nodeShape(node, shapeOf));
  return shapes;
}

function nodeShape(node: GraphNode, shapeOf: (id: string) => number[]): number[] {
  const first = (): number[] => shapeOf(node.inputs[0]!);
  switch (node.op) {
    case 'input':
      return [...node.attrs.shape];
    case 'conv2d':
      return spatial(
        first(),
        node.attrs.kernelSize,
        node.attrs.strides,
        node.attrs.pads,
        node.attrs.dilations,
        node.attrs.filters,
      );
    case 'depthwiseConv2d': {
      const inC = first()[2]!;
      const a = node.attrs;
      return spatial(
        first(),
        a.kernelSize,
        a.strides,
        a.pads,
        a.dilations,
        inC * a.depthMultiplier,
      );
    }
    case 'maxPool':
    case 'avgPool': {
      const a = node.attrs;
      return spatial(first(), a.poolSize, a.strides, a.pads, [1, 1], first()[2]!);
    }
    case 'globalAvgPool':
      return [first()[2]!];
    case 'flatten':
      return [first().reduce((a, b) => a * b, 1)];
    case 'dense':
      return [node.attrs.units];
    case 'concat': {
      const shapes = node.inputs.map(shapeOf);
      const out = [...shapes[0]!];
      out[out.length - 1] = shapes.reduce((sum, s) => sum + s[s.length - 1]!, 0);
      return out;
    }
    default:
      return [...first()];
  }
}

/**
 * Whether the IR's avgPool averages over padded cells too. The executor runs tfjs avgPool, which
 * divides by the in-bounds cells only (count_include_pad=0, unlike PyTorch's default).
 */
export const AVG_POOL_COUNTS_PADDING = false;

/** Ids of the nodes `output` depends on (itself included). */
export function liveNodes(nodes: GraphNode[], output: string): Set<string> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const live = new Set<string>();
  const stack = [output];
  while (stack.length) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    stack.push(...(byId.get(id)?.inputs ?? []));
  }
  return live;
}
