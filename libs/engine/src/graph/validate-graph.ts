import { GraphError } from './graph-error';
import { GRAPH_FORMAT, GRAPH_VERSION, type Graph, type Model, type OpType } from './ir';
import { inferNodeShape, sameShape, type ShapeMap } from './shape-inference';
import { quantizerWeightPrefix, weightSpecs } from './weight-specs';

export const OP_TYPES: readonly OpType[] = [
  'input',
  'conv2d',
  'depthwiseConv2d',
  'batchNorm',
  'relu',
  'relu6',
  'maxPool',
  'avgPool',
  'globalAvgPool',
  'add',
  'concat',
  'flatten',
  'dense',
  'softmax',
  'fakeQuant',
];
const KNOWN_OPS = new Set<string>(OP_TYPES);

/**
 * Checks a graph's structure and shapes and returns every node's output shape. Throws a
 * GraphError naming the node for: unknown op, duplicate id, dangling input, cycle, wrong input
 * count, shapes an op cannot take, and output/features/stages that name no node.
 */
export function validateGraph(graph: Graph): ShapeMap {
  if (graph.format !== GRAPH_FORMAT) {
    throw new GraphError(`not an edgecompress graph (format "${String(graph.format)}")`);
  }
  if (graph.version !== GRAPH_VERSION) {
    throw new GraphError(
      `graph version ${String(graph.version)} is not supported (this build reads version ${GRAPH_VERSION})`,
    );
  }
  if (!Array.isArray(graph.nodes) || graph.nodes.length === 0)
    throw new GraphError('graph has no nodes');

  const position = new Map<string, number>();
  for (const [i, node] of graph.nodes.entries()) {
    if (typeof node.id !== 'string' || node.id.length === 0) {
      throw new GraphError(`node at position ${i} has no id`);
    }
    if (position.has(node.id)) throw new GraphError('duplicate node id', node.id);
    if (!KNOWN_OPS.has(node.op)) throw new GraphError(`unknown op "${String(node.op)}"`, node.id);
    position.set(node.id, i);
  }

  const shapes: ShapeMap = new Map();
  for (const [i, node] of graph.nodes.entries()) {
    for (const inputId of node.inputs) {
      const at = position.get(inputId);
      if (at === undefined) throw new GraphError(`input "${inputId}" names no node`, node.id);
      if (at >= i) {
        const cycle = findCycle(graph, node.id);
        throw new GraphError(
          cycle
            ? `cycle: ${cycle.join(' -> ')}`
            : `input "${inputId}" comes later in the node list; nodes must be in topological order`,
          node.id,
        );
      }
    }
    shapes.set(
      node.id,
      inferNodeShape(
        node,
        node.inputs.map((id) => shapes.get(id)!),
      ),
    );
  }

  const inputs = graph.nodes.filter((n) => n.op === 'input');
  if (inputs.length !== 1)
    throw new GraphError(`graph must have exactly one input node, has ${inputs.length}`);
  const inputShape = shapes.get(inputs[0].id)!;
  if (!sameShape(inputShape, graph.inputShape)) {
    throw new GraphError(
      `input shape [${inputShape.join(', ')}] differs from graph.inputShape [${graph.inputShape.join(', ')}]`,
      inputs[0].id,
    );
  }

  const outputShape = shapes.get(graph.output);
  if (!outputShape) throw new GraphError(`graph output "${graph.output}" names no node`);
  if (!sameShape(outputShape, [graph.numClasses])) {
    throw new GraphError(
      `output must be logits [${graph.numClasses}], got [${outputShape.join(', ')}]`,
      graph.output,
    );
  }
  if (graph.features !== undefined && !shapes.has(graph.features)) {
    throw new GraphError(`graph features "${graph.features}" names no node`);
  }
  for (const stage of graph.stages ?? []) {
    if (!shapes.has(stage.output)) {
      throw new GraphError(`stage "${stage.name}" output "${stage.output}" names no node`);
    }
  }
  return shapes;
}

/**
 * Validates the graph, then the weights: every weight a node needs is present with the right
 * shape and data length, and no weight belongs to no node. Returns the node output shapes.
 */
export function validateModel(model: Model): ShapeMap {
  const shapes = validateGraph(model.graph);
  const expected = new Set<string>();
  const quantPrefixes: string[] = [];
  for (const node of model.graph.nodes) {
    const prefix = quantizerWeightPrefix(node);
    if (prefix) quantPrefixes.push(prefix);
    for (const spec of weightSpecs(
      node,
      node.inputs.map((id) => shapes.get(id)!),
    )) {
      expected.add(spec.name);
      const weight = model.weights.get(spec.name);
      if (!weight) throw new GraphError(`missing weight "${spec.name}"`, node.id);
      if (spec.shape && !sameShape(weight.shape, spec.shape)) {
        throw new GraphError(
          `weight "${spec.name}" has shape [${weight.shape.join(', ')}], expected [${spec.shape.join(', ')}]`,
          node.id,
        );
      }
    }
  }
  for (const [name, weight] of model.weights) {
    if (!expected.has(name) && !quantPrefixes.some((p) => name.startsWith(p))) {
      throw new GraphError(`weight "${name}" belongs to no node`);
    }
    const size = weight.shape.reduce((a, b) => a * b, 1);
    if (!weight.shape.every((d) => Number.isInteger(d) && d >= 0) || weight.data.length !== size) {
      throw new GraphError(
        `weight "${name}" has ${weight.data.length} values for shape [${weight.shape.join(', ')}]`,
      );
    }
  }
  return shapes;
}

/** A cycle through `startId`, as a list of ids ending where it began, or null. */
function findCycle(graph: Graph, startId: string): string[] | null {
  const inputsOf = new Map(graph.nodes.map((n) => [n.id, n.inputs]));
  const path: string[] = [];
  const visited = new Set<string>();
  const walk = (id: string): boolean => {
    if (id === startId && path.length > 0) return true;
    if (visited.has(id)) return false;
    visited.add(id);
    path.push(id);
    for (const next of inputsOf.get(id) ?? []) if (walk(next)) return true;
    path.pop();
    return false;
  };
  return walk(startId) ? [...path, startId].reverse() : null;
}
