/**
 * Folds each inference-mode batchNorm into the conv that feeds it (when the conv has no other
 * consumer): W' = W * gamma / sqrt(var + eps) per output channel, b' = (b - mean) * that + beta.
 * Returns a new Model; the input is not modified.
 */
import type { Graph, GraphNode, Model, WeightTensor, Weights } from '../graph/ir';

export function consumersOf(graph: Graph): Map<string, GraphNode[]> {
  const consumers = new Map<string, GraphNode[]>();
  for (const node of graph.nodes)
    for (const input of node.inputs) {
      const list = consumers.get(input) ?? [];
      list.push(node);
      consumers.set(input, list);
    }
  return consumers;
}

function weight(weights: Weights, name: string): WeightTensor {
  const w = weights.get(name);
  if (!w) throw new Error(`missing weight "${name}"`);
  return w;
}

export function foldBatchNorms(model: Model): Model {
  const { graph } = model;
  const consumers = consumersOf(graph);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const weights: Weights = new Map(model.weights);
  const replaced = new Map<string, string>(); // folded BN id -> conv id
  const nodes: GraphNode[] = [];
  const patched = new Map<string, GraphNode>();

  for (const node of graph.nodes) {
    if (node.op !== 'batchNorm') continue;
    const conv = byId.get(node.inputs[0]!);
    if (!conv || (conv.op !== 'conv2d' && conv.op !== 'depthwiseConv2d')) continue;
    if ((consumers.get(conv.id) ?? []).length !== 1) continue;
    if (graph.output === conv.id || graph.features === conv.id) continue;

    const kernel = weight(weights, `${conv.id}/kernel`);
    const outC =
      kernel.shape.length === 4
        ? conv.op === 'conv2d'
          ? kernel.shape[3]!
          : kernel.shape[2]! * kernel.shape[3]!
        : 0;
    const gamma = weight(weights, `${node.id}/gamma`).data;
    const beta = weight(weights, `${node.id}/beta`).data;
    const mean = weight(weights, `${node.id}/movingMean`).data;
    const variance = weight(weights, `${node.id}/movingVariance`).data;
    if (gamma.length !== outC)
      throw new Error(
        `batchNorm "${node.id}" has ${gamma.length} channels, conv "${conv.id}" ${outC}`,
      );
    const scale = new Float32Array(outC);
    for (let c = 0; c < outC; c++)
      scale[c] = gamma[c]! / Math.sqrt(variance[c]! + node.attrs.epsilon);

    const k = new Float32Array(kernel.data.length);
    for (let i = 0; i < k.length; i++) k[i] = kernel.data[i]! * scale[i % outC]!;
    const oldBias = conv.attrs.useBias
      ? weight(weights, `${conv.id}/bias`).data
      : new Float32Array(outC);
    const bias = new Float32Array(outC);
    for (let c = 0; c < outC; c++) bias[c] = (oldBias[c]! - mean[c]!) * scale[c]! + beta[c]!;

    weights.set(`${conv.id}/kernel`, { shape: [...kernel.shape], data: k });
    weights.set(`${conv.id}/bias`, { shape: [outC], data: bias });
    for (const role of ['gamma', 'beta', 'movingMean', 'movingVariance'])
      weights.delete(`${node.id}/${role}`);
    patched.set(conv.id, { ...conv, attrs: { ...conv.attrs, useBias: true } } as GraphNode);
    replaced.set(node.id, conv.id);
  }

  const rename = (id: string): string => replaced.get(id) ?? id;
  for (const node of graph.nodes) {
    if (replaced.has(node.id)) continue;
    const base = patched.get(node.id) ?? node;
    nodes.push({ ...base, inputs: base.inputs.map(rename) } as GraphNode);
  }
  const folded: Graph = {
    ...graph,
    nodes,
    output: rename(graph.output),
    ...(graph.features ? { features: rename(graph.features) } : {}),
    ...(graph.stages
      ? { stages: graph.stages.map((s) => ({ ...s, output: rename(s.output) })) }
      : {}),
  };
  return { graph: folded, weights };
}
