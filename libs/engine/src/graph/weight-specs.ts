import type { GraphNode } from './ir';

/** How a weight is used: trained by gradient descent, or running state updated by the forward pass. */
export type WeightKind = 'trainable' | 'state';

export interface WeightSpec {
  name: string;
  role: string;
  /** Expected shape, or null for quantizer parameters whose shape their quantizer defines. */
  shape: number[] | null;
  kind: WeightKind;
}

export const weightName = (nodeId: string, role: string): string => `${nodeId}/${role}`;

/** Splits `${nodeId}/${role}` at the last slash (node ids may themselves contain slashes). */
export function splitWeightName(name: string): { nodeId: string; role: string } {
  const slash = name.lastIndexOf('/');
  if (slash <= 0 || slash === name.length - 1) return { nodeId: name, role: '' };
  return { nodeId: name.slice(0, slash), role: name.slice(slash + 1) };
}

/** Prefix of a node's quantizer-parameter weights: `${id}/wq.` for weights, `${id}/` for fakeQuant. */
export function quantizerWeightPrefix(node: GraphNode): string | null {
  if (node.op === 'fakeQuant') return `${node.id}/`;
  if (
    (node.op === 'conv2d' || node.op === 'depthwiseConv2d' || node.op === 'dense') &&
    node.attrs.weightQuant
  ) {
    return `${node.id}/wq.`;
  }
  return null;
}

/**
 * The weights a node must have, with their shapes, given the shapes of its inputs. Quantizer
 * parameters are not listed: they belong to the quantizer (see quantizerWeightPrefix).
 */
export function weightSpecs(node: GraphNode, inputShapes: readonly number[][]): WeightSpec[] {
  const spec = (role: string, shape: number[], kind: WeightKind = 'trainable'): WeightSpec => ({
    name: weightName(node.id, role),
    role,
    shape,
    kind,
  });
  const channelsIn = (): number => {
    const shape = inputShapes[0] ?? [];
    return shape[shape.length - 1] ?? 0;
  };
  switch (node.op) {
    case 'conv2d': {
      const { kernelSize, filters, groups, useBias } = node.attrs;
      const kernel = spec('kernel', [kernelSize[0], kernelSize[1], channelsIn() / groups, filters]);
      return useBias ? [kernel, spec('bias', [filters])] : [kernel];
    }
    case 'depthwiseConv2d': {
      const { kernelSize, depthMultiplier, useBias } = node.attrs;
      const c = channelsIn();
      const kernel = spec('kernel', [kernelSize[0], kernelSize[1], c, depthMultiplier]);
      return useBias ? [kernel, spec('bias', [c * depthMultiplier])] : [kernel];
    }
    case 'dense': {
      const { units, useBias } = node.attrs;
      const kernel = spec('kernel', [channelsIn(), units]);
      return useBias ? [kernel, spec('bias', [units])] : [kernel];
    }
    case 'batchNorm': {
      const c = channelsIn();
      return [
        spec('gamma', [c]),
        spec('beta', [c]),
        spec('movingMean', [c], 'state'),
        spec('movingVariance', [c], 'state'),
      ];
    }
    default:
      return [];
  }
}
