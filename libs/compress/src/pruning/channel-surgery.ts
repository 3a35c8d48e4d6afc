/**
 * Physical channel removal. Given the classes to remove, every layer shrinks consistently:
 * producers lose output channels, BN and depthwise convs lose the channels they carry, consumers
 * (convs, dense after flatten or global pooling) lose the matching input channels.
 *
 * `maskChannels` zeroes the same channels instead (producer outputs and every per-channel
 * parameter on their path), keeping shapes: the masked model computes what the pruned model
 * computes, which is how the surgery is tested.
 */
import type { GraphNode, Model, WeightTensor, Weights } from '@edgecompress/engine';
import { type DependencyAnalysis, isDepthwiseStyleConv } from './dependency-groups';

/** One slice of one weight: keep `keep` along `axis`. `side` says which tensor it follows. */
interface SliceStep {
  weight: string;
  axis: number;
  keep: number[];
  /** out: the channel's own parameters (zeroed by masking); in: a consumer's input slice; stat: BN running stats. */
  side: 'out' | 'in' | 'stat';
}

interface NodePlan {
  steps: SliceStep[];
  attrs?: Record<string, number>;
}

export interface RemovalSummary {
  /** Channels before and after for every node whose channel count changed. */
  channels: Map<string, { before: number; after: number }>;
}

function keptIndices(
  els: Int32Array,
  removed: ReadonlySet<number>,
  a: DependencyAnalysis,
): number[] {
  const keep: number[] = [];
  for (let i = 0; i < els.length; i++) if (!removed.has(a.classOf(els[i]!))) keep.push(i);
  return keep;
}

function planNode(
  node: GraphNode,
  model: Model,
  a: DependencyAnalysis,
  removed: ReadonlySet<number>,
): NodePlan | null {
  const outEls = a.elements.get(node.id)!;
  const inEls = node.inputs[0] ? a.elements.get(node.inputs[0])! : undefined;
  const keepOut = keptIndices(outEls, removed, a);
  const keepIn = inEls ? keptIndices(inEls, removed, a) : [];
  const outChanged = keepOut.length !== outEls.length;
  const inChanged = inEls !== undefined && keepIn.length !== inEls.length;
  if (!outChanged && !inChanged) return null;
  const w = (role: string): string => `${node.id}/${role}`;
  const has = (role: string): boolean => model.weights.has(w(role));
  const steps: SliceStep[] = [];
  const perChannelQuant = (): void => {
    if (!('weightQuant' in node.attrs) || !node.attrs.weightQuant?.perChannel) return;
    for (const [name, t] of model.weights) {
      if (name.startsWith(`${node.id}/wq.`) && t.shape[t.shape.length - 1] === outEls.length) {
        steps.push({ weight: name, axis: t.shape.length - 1, keep: keepOut, side: 'out' });
      }
    }
  };
  switch (node.op) {
    case 'conv2d': {
      if (isDepthwiseStyleConv(node, inEls!.length)) {
        steps.push({ weight: w('kernel'), axis: 3, keep: keepOut, side: 'out' });
        if (has('bias')) steps.push({ weight: w('bias'), axis: 0, keep: keepOut, side: 'out' });
        perChannelQuant();
        return { steps, attrs: { filters: keepOut.length, groups: keepOut.length } };
      }
      if (node.attrs.groups !== 1) throw new Error(`grouped conv ${node.id} cannot lose channels`);
      if (outChanged) {
        steps.push({ weight: w('kernel'), axis: 3, keep: keepOut, side: 'out' });
        if (has('bias')) steps.push({ weight: w('bias'), axis: 0, keep: keepOut, side: 'out' });
        perChannelQuant();
      }
      if (inChanged) steps.push({ weight: w('kernel'), axis: 2, keep: keepIn, side: 'in' });
      return { steps, attrs: { filters: keepOut.length } };
    }
    case 'depthwiseConv2d': {
      if (node.attrs.depthMultiplier !== 1) {
        throw new Error(`depthwise conv ${node.id} with multiplier > 1 cannot lose channels`);
      }
      steps.push({ weight: w('kernel'), axis: 2, keep: keepOut, side: 'out' });
      if (has('bias')) steps.push({ weight: w('bias'), axis: 0, keep: keepOut, side: 'out' });
      perChannelQuant();
      return { steps };
    }
    case 'batchNorm':
      for (const role of ['gamma', 'beta']) {
        if (has(role)) steps.push({ weight: w(role), axis: 0, keep: keepOut, side: 'out' });
      }
      for (const role of ['movingMean', 'movingVariance']) {
        if (has(role)) steps.push({ weight: w(role), axis: 0, keep: keepOut, side: 'stat' });
      }
      return { steps };
    case 'dense':
      if (outChanged) {
        steps.push({ weight: w('kernel'), axis: 1, keep: keepOut, side: 'out' });
        if (has('bias')) steps.push({ weight: w('bias'), axis: 0, keep: keepOut, side: 'out' });
        perChannelQuant();
      }
      if (inChanged) steps.push({ weight: w('kernel'), axis: 0, keep: keepIn, side: 'in' });
      return { steps, attrs: { units: keepOut.length } };
    case 'input':
      throw new Error('the model input cannot lose channels');
    default:
      return { steps };
  }
}

/** Keeps `keep` along `axis` of a dense row-major tensor. */
export function sliceAxis(t: WeightTensor, axis: number, keep: readonly number[]): WeightTensor {
  const shape = [...t.shape];
  const outer = shape.slice(0, axis).reduce((x, y) => x * y, 1);
  const inner = shape.slice(axis + 1).reduce((x, y) => x * y, 1);
  const size = shape[axis]!;
  const data = new Float32Array(outer * keep.length * inner);
  let o = 0;
  for (let i = 0; i < outer; i++) {
    for (const k of keep) {
      const from = (i * size + k) * inner;
      data.set(t.data.subarray(from, from + inner), o);
      o += inner;
    }
  }
  shape[axis] = keep.length;
  return { shape, data };
}

/** Zeroes every index of `axis` not in `keep`. */
function zeroAxis(t: WeightTensor, axis: number, keep: readonly number[]): WeightTensor {
  const shape = t.shape;
  const outer = shape.slice(0, axis).reduce((x, y) => x * y, 1);
  const inner = shape.slice(axis + 1).reduce((x, y) => x * y, 1);
  const size = shape[axis]!;
  const kept = new Set(keep);
  const data = t.data.slice();
  for (let i = 0; i < outer; i++) {
    for (let k = 0; k < size; k++) {
      if (!kept.has(k)) data.fill(0, (i * size + k) * inner, (i * size + k + 1) * inner);
    }
  }
  return { shape: [...shape], data };
}

function checkRemovable(a: DependencyAnalysis, removed: ReadonlySet<number>): void {
  for (const cls of removed) {
    const gi = a.groupOfClass.get(cls);
    if (gi === undefined) throw new Error(`unknown channel class ${cls}`);
    const group = a.groups[gi]!;
    if (!group.prunable) throw new Error(`group ${group.id} is not prunable: ${group.reason}`);
  }
  for (const group of a.groups) {
    if (group.channels.every((c) => removed.has(c.id))) {
      throw new Error(`removing every channel of group ${group.id} would disconnect the model`);
    }
  }
}

/** Returns a new, physically smaller model without the given channel classes. */
export function removeChannels(
  model: Model,
  analysis: DependencyAnalysis,
  removed: ReadonlySet<number>,
): { model: Model; summary: RemovalSummary } {
  if (analysis.graph !== model.graph) {
    throw new Error('the dependency analysis was made for a different graph');
  }
  checkRemovable(analysis, removed);
  const weights: Weights = new Map(model.weights);
  const channels = new Map<string, { before: number; after: number }>();
  const nodes = model.graph.nodes.map((node) => {
    const plan = planNode(node, model, analysis, removed);
    if (!plan) return structuredClone(node);
    for (const step of plan.steps) {
      const t = weights.get(step.weight);
      if (!t) throw new Error(`missing weight ${step.weight}`);
      weights.set(step.weight, sliceAxis(t, step.axis, step.keep));
    }
    const copy = structuredClone(node);
    if (plan.attrs) Object.assign(copy.attrs, plan.attrs);
    const before = analysis.elements.get(node.id)!.length;
    const after = keptIndices(analysis.elements.get(node.id)!, removed, analysis).length;
    if (before !== after) channels.set(node.id, { before, after });
    return copy;
  });
  const graph = { ...structuredClone({ ...model.graph, nodes: [] }), nodes };
  return { model: { graph, weights }, summary: { channels } };
}

/** Returns a same-shaped model whose given channel classes compute exactly zero. */
export function maskChannels(
  model: Model,
  analysis: DependencyAnalysis,
  removed: ReadonlySet<number>,
): Model {
  checkRemovable(analysis, removed);
  const weights: Weights = new Map(model.weights);
  for (const node of model.graph.nodes) {
    const plan = planNode(node, model, analysis, removed);
    for (const step of plan?.steps ?? []) {
      if (step.side !== 'out') continue;
      weights.set(step.weight, zeroAxis(weights.get(step.weight)!, step.axis, step.keep));
    }
  }
  return { graph: model.graph, weights };
}
