/**
 * Graph transform: a float model -> the same model with fake quantizers. Each quantized layer
 * (conv, depthwise conv, dense) gets `weightQuant`, and its input gets a `fakeQuant` node
 * (shared when several quantized layers read the same tensor), as EWGS's QConv quantizes its
 * input and kernel. First conv and last layer stay float by default. Quantizer parameters are
 * filled by `initialiseQuantizers`.
 */
import type { Graph, GraphNode, Model } from '@edgecompress/engine';
import { validateQuantizationConfig, type QuantizationConfig } from './quantization-config';

export type QuantizableNode = GraphNode & { op: 'conv2d' | 'depthwiseConv2d' | 'dense' };

export const isQuantizable = (n: GraphNode): n is QuantizableNode =>
  n.op === 'conv2d' || n.op === 'depthwiseConv2d' || n.op === 'dense';

export function hasQuantizers(graph: Graph): boolean {
  return graph.nodes.some((n) => n.op === 'fakeQuant' || (isQuantizable(n) && n.attrs.weightQuant));
}

/** Layers the config quantizes, in graph order. */
export function layersToQuantize(graph: Graph, config: QuantizationConfig): QuantizableNode[] {
  const layers = graph.nodes.filter(isQuantizable);
  const first = layers[0];
  const last = layers[layers.length - 1];
  return layers.filter(
    (n) =>
      !((config.keepFirstFloat ?? true) && n === first) &&
      !((config.keepLastFloat ?? true) && n === last),
  );
}

/** Activations after ReLU/ReLU6 (possibly through pooling or flatten) are unsigned. */
function producesUnsigned(id: string, byId: Map<string, GraphNode>): boolean {
  const node = byId.get(id);
  if (!node) return false;
  if (node.op === 'relu' || node.op === 'relu6') return true;
  if (
    node.op === 'maxPool' ||
    node.op === 'avgPool' ||
    node.op === 'globalAvgPool' ||
    node.op === 'flatten'
  )
    return producesUnsigned(node.inputs[0]!, byId);
  if (node.op === 'concat') return node.inputs.every((i) => producesUnsigned(i, byId));
  return false;
}

export const activationQuantizerId = (inputId: string): string => `${inputId}.aq`;

export function insertQuantizers(model: Model, config: QuantizationConfig): Model {
  validateQuantizationConfig(config);
  const { graph } = model;
  if (hasQuantizers(graph)) {
    throw new Error(`model "${graph.name}" already carries quantizers; quantize a float model`);
  }
  const targets = layersToQuantize(graph, config);
  if (targets.length === 0) {
    const total = graph.nodes.filter(isQuantizable).length;
    throw new Error(
      `model "${graph.name}" has no quantizable layers (${total} conv/dense layers, ` +
        `first and last kept float): nothing to quantize`,
    );
  }
  const targetIds = new Set(targets.map((n) => n.id));
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const inserted = new Set<string>();
  const nodes: GraphNode[] = [];
  for (const node of graph.nodes) {
    if (!isQuantizable(node) || !targetIds.has(node.id)) {
      nodes.push(structuredClone(node));
      continue;
    }
    const source = node.inputs[0]!;
    const aq = activationQuantizerId(source);
    if (!inserted.has(aq)) {
      inserted.add(aq);
      nodes.push({
        id: aq,
        op: 'fakeQuant',
        inputs: [source],
        attrs: {
          quantizer: config.quantizer,
          bits: config.activationBits,
          signed: !producesUnsigned(source, byId),
        },
        ...(node.tags ? { tags: { ...node.tags } } : {}),
      });
    }
    const marked = structuredClone(node);
    marked.inputs = [aq, ...marked.inputs.slice(1)];
    marked.attrs.weightQuant = {
      quantizer: config.quantizer,
      bits: config.weightBits,
      perChannel: config.perChannel ?? false,
    };
    nodes.push(marked);
  }
  return { graph: { ...structuredClone(graph), nodes }, weights: new Map(model.weights) };
}
