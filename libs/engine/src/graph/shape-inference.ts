import { GraphError } from './graph-error';
import type { Graph, GraphNode, Pads, Pair } from './ir';

/** Node output shapes without the batch dimension: [H, W, C] for feature maps, [F] for vectors. */
export type ShapeMap = Map<string, number[]>;

/**
 * Output shape of every node, in graph order. Throws a GraphError naming the first node whose
 * inputs are missing or whose input shapes its op cannot take.
 */
export function inferShapes(graph: Graph): ShapeMap {
  const shapes: ShapeMap = new Map();
  for (const node of graph.nodes) {
    const inputShapes = node.inputs.map((inputId) => {
      const shape = shapes.get(inputId);
      if (!shape) throw new GraphError(`input "${inputId}" is not an earlier node`, node.id);
      return shape;
    });
    shapes.set(node.id, inferNodeShape(node, inputShapes));
  }
  return shapes;
}

/** Output shape of one node given its input shapes. */
export function inferNodeShape(node: GraphNode, inputShapes: readonly number[][]): number[] {
  const fail = (message: string): never => {
    throw new GraphError(message, node.id);
  };
  const expectInputs = (count: number): void => {
    if (inputShapes.length !== count) {
      fail(`${node.op} takes ${count} input(s), got ${inputShapes.length}`);
    }
  };
  const featureMap = (): [number, number, number] => {
    expectInputs(1);
    const shape = inputShapes[0];
    if (shape.length !== 3) fail(`${node.op} needs an [H, W, C] input, got [${shape.join(', ')}]`);
    return shape as [number, number, number];
  };

  switch (node.op) {
    case 'input':
      expectInputs(0);
      if (node.attrs.shape.length === 0 || !node.attrs.shape.every(isPositiveInt)) {
        fail(`input shape must be positive integers, got [${node.attrs.shape.join(', ')}]`);
      }
      return [...node.attrs.shape];
    case 'conv2d': {
      const [h, w, c] = featureMap();
      const { filters, groups } = node.attrs;
      if (!isPositiveInt(filters)) fail(`filters must be a positive integer, got ${filters}`);
      if (!isPositiveInt(groups) || c % groups !== 0 || filters % groups !== 0) {
        fail(`groups ${groups} must divide input channels ${c} and filters ${filters}`);
      }
      const [oh, ow] = windowOutput(node.id, [h, w], node.attrs);
      return [oh, ow, filters];
    }
    case 'depthwiseConv2d': {
      const [h, w, c] = featureMap();
      const { depthMultiplier } = node.attrs;
      if (!isPositiveInt(depthMultiplier)) {
        fail(`depthMultiplier must be a positive integer, got ${depthMultiplier}`);
      }
      const [oh, ow] = windowOutput(node.id, [h, w], node.attrs);
      return [oh, ow, c * depthMultiplier];
    }
    case 'maxPool':
    case 'avgPool': {
      const [h, w, c] = featureMap();
      const [oh, ow] = windowOutput(node.id, [h, w], {
        kernelSize: node.attrs.poolSize,
        strides: node.attrs.strides,
        pads: node.attrs.pads,
        dilations: [1, 1],
      });
      return [oh, ow, c];
    }
    case 'globalAvgPool':
      return [featureMap()[2]];
    case 'batchNorm':
    case 'relu':
    case 'relu6':
    case 'softmax':
    case 'fakeQuant':
      expectInputs(1);
      return [...inputShapes[0]];
    case 'add': {
      if (inputShapes.length < 2) fail(`add takes at least 2 inputs, got ${inputShapes.length}`);
      const first = inputShapes[0];
      for (const [i, shape] of inputShapes.entries()) {
        if (!sameShape(first, shape)) {
          fail(
            `add inputs must have equal shapes: input 0 (${node.inputs[0]}) is [${first.join(', ')}], ` +
              `input ${i} (${node.inputs[i]}) is [${shape.join(', ')}]`,
          );
        }
      }
      return [...first];
    }
    case 'concat': {
      if (inputShapes.length < 1) fail('concat takes at least 1 input');
      const first = inputShapes[0];
      let channels = 0;
      for (const [i, shape] of inputShapes.entries()) {
        if (shape.length !== first.length || !sameShape(shape.slice(0, -1), first.slice(0, -1))) {
          fail(
            `concat inputs must agree on all but the last axis: input ${i} (${node.inputs[i]}) ` +
              `is [${shape.join(', ')}], input 0 is [${first.join(', ')}]`,
          );
        }
        channels += shape[shape.length - 1];
      }
      return [...first.slice(0, -1), channels];
    }
    case 'flatten':
      expectInputs(1);
      return [inputShapes[0].reduce((a, b) => a * b, 1)];
    case 'dense': {
      expectInputs(1);
      if (inputShapes[0].length !== 1) {
        fail(`dense needs a flat [F] input, got [${inputShapes[0].join(', ')}]; add a flatten`);
      }
      if (!isPositiveInt(node.attrs.units)) {
        fail(`units must be a positive integer, got ${node.attrs.units}`);
      }
      return [node.attrs.units];
    }
    default:
      return fail(`unknown op "${(node as { op: unknown }).op}"`);
  }
}

interface WindowAttrs {
  kernelSize: Pair;
  strides: Pair;
  pads: Pads;
  dilations: Pair;
}

/** Spatial output of a sliding window with explicit pads (floor rounding, as PyTorch and ONNX). */
function windowOutput(nodeId: string, [h, w]: Pair, attrs: WindowAttrs): Pair {
  const { kernelSize, strides, pads, dilations } = attrs;
  const ints = [...kernelSize, ...strides, ...dilations];
  if (ints.length !== 6 || !ints.every(isPositiveInt)) {
    throw new GraphError(
      'kernel size, strides and dilations must be positive integer pairs',
      nodeId,
    );
  }
  if (pads.length !== 4 || !pads.every((p) => Number.isInteger(p) && p >= 0)) {
    throw new GraphError(
      'pads must be four non-negative integers [top, bottom, left, right]',
      nodeId,
    );
  }
  const out = (size: number, k: number, s: number, d: number, before: number, after: number) =>
    Math.floor((size + before + after - d * (k - 1) - 1) / s) + 1;
  const oh = out(h, kernelSize[0], strides[0], dilations[0], pads[0], pads[1]);
  const ow = out(w, kernelSize[1], strides[1], dilations[1], pads[2], pads[3]);
  if (oh < 1 || ow < 1) {
    throw new GraphError(
      `a ${kernelSize.join('x')} window with stride ${strides.join('x')} does not fit a ` +
        `${h}x${w} input (output would be ${oh}x${ow})`,
      nodeId,
    );
  }
  return [oh, ow];
}

function isPositiveInt(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
