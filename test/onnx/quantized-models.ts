/** Quantization-aware models for the export tests, built without the quantizers' code. */
import type { GraphNode, Model, WeightTensor } from '@edgecompress/engine';

export type GridKind = 'symmetric' | 'half-offset';

/**
 * Fake-quantizes a tfjs-layout kernel per output channel (last axis) to `bits`:
 * symmetric: s * k, k in [-(2^(b-1) - 1), 2^(b-1) - 1] (a grid holding zero);
 * half-offset: s * (k - (2^b - 1) / 2), k in [0, 2^b - 1] (the learned-interval grid, no zero).
 */
export function fakeQuantizeKernel(w: WeightTensor, bits: number, grid: GridKind): Float32Array {
  const outC = w.shape[w.shape.length - 1]!;
  const out = new Float32Array(w.data.length);
  for (let c = 0; c < outC; c++) {
    let amax = 0;
    for (let i = c; i < w.data.length; i += outC) amax = Math.max(amax, Math.abs(w.data[i]!));
    if (grid === 'symmetric') {
      const qmax = 2 ** (bits - 1) - 1;
      const s = amax / qmax;
      for (let i = c; i < w.data.length; i += outC) out[i] = s * Math.round(w.data[i]! / s);
    } else {
      const levels = 2 ** bits - 1;
      const s = (2 * amax) / levels;
      for (let i = c; i < w.data.length; i += outC) {
        const k = Math.min(levels, Math.max(0, Math.round(w.data[i]! / s + levels / 2)));
        out[i] = s * (k - levels / 2);
      }
    }
  }
  return out;
}

/**
 * Marks every conv except the first, and no dense (SQAKD keeps first and last layers float),
 * with `weightQuant` of `bits`; with `activationBits`, inserts a fakeQuant after each body ReLU.
 */
export function markQuantized(model: Model, bits: number, activationBits?: number): Model {
  const convs = model.graph.nodes.filter((n) => n.op === 'conv2d' || n.op === 'depthwiseConv2d');
  const first = convs[0]!.id;
  const nodes: GraphNode[] = [];
  const renamed = new Map<string, string>();
  for (const node of model.graph.nodes) {
    const inputs = node.inputs.map((i) => renamed.get(i) ?? i);
    if ((node.op === 'conv2d' || node.op === 'depthwiseConv2d') && node.id !== first) {
      nodes.push({
        ...node,
        inputs,
        attrs: {
          ...node.attrs,
          weightQuant: { quantizer: 'learned-interval', bits, perChannel: true },
        },
      } as GraphNode);
    } else {
      nodes.push({ ...node, inputs } as GraphNode);
    }
    if (activationBits && node.op === 'relu' && node.tags?.role === 'body') {
      const id = `${node.id}.aq`;
      nodes.push({
        id,
        op: 'fakeQuant',
        inputs: [node.id],
        attrs: { quantizer: 'learned-interval', bits: activationBits, signed: false },
      });
      renamed.set(node.id, id);
    }
  }
  const rename = (id: string): string => renamed.get(id) ?? id;
  return {
    graph: {
      ...model.graph,
      nodes,
      output: rename(model.graph.output),
      ...(model.graph.features ? { features: rename(model.graph.features) } : {}),
      ...(model.graph.stages
        ? { stages: model.graph.stages.map((s) => ({ ...s, output: rename(s.output) })) }
        : {}),
    },
    weights: model.weights,
  };
}

/** The same model with every marked kernel replaced by its fake-quantized values (a float model). */
export function withQuantizedKernels(model: Model, bits: number, grid: GridKind): Model {
  const weights = new Map(model.weights);
  for (const node of model.graph.nodes) {
    if (
      (node.op === 'conv2d' || node.op === 'depthwiseConv2d' || node.op === 'dense') &&
      node.attrs.weightQuant
    ) {
      const k = model.weights.get(`${node.id}/kernel`)!;
      weights.set(`${node.id}/kernel`, {
        shape: [...k.shape],
        data: fakeQuantizeKernel(k, bits, grid),
      });
    }
  }
  return { graph: model.graph, weights };
}
