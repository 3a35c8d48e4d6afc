/**
 * Which output channels can be removed together.
 *
 * Every producer (a node that makes new channels: input, conv2d, dense, grouped convs) owns one
 * "element" per output channel. The analysis follows each tensor's last axis through the graph as
 * a list of elements: BN, activations, pools, depthwise convs (multiplier 1) pass elements through;
 * flatten repeats them spatial-major (feature index = (h·W + w)·C + c, NHWC); concat joins lists;
 * add ties the elements at each index together (union-find). The resulting equivalence classes are
 * the units of pruning: removing one removes that channel from every producer in it, and the
 * producers linked by shared classes form a dependency group that is scored and thresholded as one.
 */
import type { Graph, GraphNode } from '@edgecompress/engine';
import { type ShapeMap, inferShapes } from './graph-shapes';

export interface ChannelMember {
  node: string;
  channel: number;
}

/** Channels that must be removed together (one per tied producer). */
export interface ChannelClass {
  id: number;
  members: ChannelMember[];
}

export interface DependencyGroup {
  /** The first producer's id. */
  id: string;
  producers: string[];
  /** Pruning units, ordered by the first producer's channel index. */
  channels: ChannelClass[];
  prunable: boolean;
  /** Why the group is not prunable. */
  reason?: string;
  /** Activation nodes (ReLU/ReLU6) whose output carries these channels: they score the group. */
  scoredBy: string[];
}

export interface DependencyOptions {
  /** Prune the stem conv (the first conv on the input). Default true, as in the released AAP. */
  pruneStem?: boolean;
  /** Prune hidden dense layers of the classifier head. The logits layer is never pruned. */
  pruneClassifier?: boolean;
}

export interface DependencyAnalysis {
  graph: Graph;
  shapes: ShapeMap;
  groups: DependencyGroup[];
  /** Elements along the last axis of every node's output. */
  elements: Map<string, Int32Array>;
  /** Class id of an element (its union-find root). */
  classOf(element: number): number;
  /** Class id -> group index. */
  groupOfClass: Map<number, number>;
}

const PASS_THROUGH = new Set([
  'batchNorm',
  'relu',
  'relu6',
  'maxPool',
  'avgPool',
  'globalAvgPool',
  'softmax',
  'fakeQuant',
]);
export const ACTIVATION_OPS = new Set(['relu', 'relu6']);

/** A conv2d written with groups == inC == filters: each output channel follows its input channel. */
export function isDepthwiseStyleConv(node: GraphNode, inChannels: number): boolean {
  return (
    node.op === 'conv2d' &&
    node.attrs.groups > 1 &&
    node.attrs.groups === inChannels &&
    node.attrs.filters === inChannels
  );
}

class UnionFind {
  private readonly parent: Int32Array;
  constructor(size: number) {
    this.parent = Int32Array.from({ length: size }, (_, i) => i);
  }
  find(x: number): number {
    let root = x;
    while (this.parent[root] !== root) root = this.parent[root]!;
    while (this.parent[x] !== root) {
      const next = this.parent[x]!;
      this.parent[x] = root;
      x = next;
    }
    return root;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    // Keep the smaller id as root so class ids follow topological order.
    if (ra < rb) this.parent[rb] = ra;
    else if (rb < ra) this.parent[ra] = rb;
  }
}

function firstStemConv(graph: Graph): string | undefined {
  const tagged = graph.nodes.find((n) => n.tags?.role === 'stem' && n.op === 'conv2d');
  if (tagged) return tagged.id;
  const inputs = new Set(graph.nodes.filter((n) => n.op === 'input').map((n) => n.id));
  return graph.nodes.find((n) => n.op === 'conv2d' && n.inputs.some((i) => inputs.has(i)))?.id;
}

export function analyzeDependencies(
  graph: Graph,
  options: DependencyOptions = {},
): DependencyAnalysis {
  const pruneStem = options.pruneStem ?? true;
  const pruneClassifier = options.pruneClassifier ?? false;
  const shapes = inferShapes(graph);
  const lastDim = (id: string): number => {
    const s = shapes.get(id)!;
    return s[s.length - 1]!;
  };

  // 1. Producers and their element ranges.
  const producerBase = new Map<string, number>();
  const producerOrder: string[] = [];
  let total = 0;
  const makesChannels = (node: GraphNode): boolean => {
    switch (node.op) {
      case 'input':
      case 'dense':
        return true;
      case 'conv2d':
        return !isDepthwiseStyleConv(node, lastDim(node.inputs[0]!));
      case 'depthwiseConv2d':
        return node.attrs.depthMultiplier !== 1;
      default:
        return false;
    }
  };
  for (const node of graph.nodes) {
    if (!makesChannels(node)) continue;
    producerBase.set(node.id, total);
    producerOrder.push(node.id);
    total += lastDim(node.id);
  }
  const ownerOf = new Int32Array(total);
  producerOrder.forEach((id, p) =>
    ownerOf.fill(p, producerBase.get(id)!, producerBase.get(id)! + lastDim(id)),
  );

  // 2. Propagate element lists; tie at adds; pin what must not change.
  const uf = new UnionFind(total);
  const pinned = new Set<number>(); // elements (any member pins its class)
  const pinReason = new Map<number, string>();
  const pin = (els: Int32Array, why: string): void => {
    for (const e of els) {
      pinned.add(e);
      if (!pinReason.has(e)) pinReason.set(e, why);
    }
  };
  const elements = new Map<string, Int32Array>();
  const inEls = (node: GraphNode, i = 0): Int32Array => {
    const els = elements.get(node.inputs[i] ?? '');
    if (!els) throw new Error(`node "${node.id}" reads unknown input "${node.inputs[i]}"`);
    return els;
  };
  const own = (id: string): Int32Array => {
    const base = producerBase.get(id)!;
    return Int32Array.from({ length: lastDim(id) }, (_, i) => base + i);
  };

  for (const node of graph.nodes) {
    let out: Int32Array;
    if (producerBase.has(node.id)) {
      out = own(node.id);
      if (node.op === 'conv2d' && node.attrs.groups !== 1) {
        pin(inEls(node), `feeds grouped conv ${node.id}`);
        pin(out, `made by grouped conv ${node.id}`);
      } else if (node.op === 'depthwiseConv2d') {
        pin(inEls(node), `feeds depthwise conv ${node.id} with multiplier > 1`);
        pin(out, `made by depthwise conv ${node.id} with multiplier > 1`);
      } else if (node.op === 'input') {
        pin(out, 'model input');
      }
    } else if (PASS_THROUGH.has(node.op) || node.op === 'conv2d' || node.op === 'depthwiseConv2d') {
      out = inEls(node);
    } else if (node.op === 'flatten') {
      const channels = inEls(node);
      const spatial = lastDim(node.id) / channels.length;
      out = new Int32Array(lastDim(node.id));
      for (let s = 0; s < spatial; s++) out.set(channels, s * channels.length);
    } else if (node.op === 'concat') {
      const parts = node.inputs.map((_, i) => inEls(node, i));
      out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const p of parts) {
        out.set(p, offset);
        offset += p.length;
      }
    } else if (node.op === 'add') {
      const parts = node.inputs.map((_, i) => inEls(node, i));
      out = parts[0]!;
      for (const p of parts.slice(1)) {
        if (p.length !== out.length) {
          throw new Error(
            `add "${node.id}" joins tensors of ${out.length} and ${p.length} channels`,
          );
        }
        for (let i = 0; i < p.length; i++) uf.union(out[i]!, p[i]!);
      }
    } else {
      throw new Error(`pruning analysis does not know op "${(node as GraphNode).op}" (${node.id})`);
    }
    elements.set(node.id, out);
  }
  pin(elements.get(graph.output)!, 'model output');

  // 3. Classes: members grouped by root.
  const classMembers = new Map<number, ChannelMember[]>();
  for (let e = 0; e < total; e++) {
    const root = uf.find(e);
    const producer = producerOrder[ownerOf[e]!]!;
    const member = { node: producer, channel: e - producerBase.get(producer)! };
    const list = classMembers.get(root);
    if (list) list.push(member);
    else classMembers.set(root, [member]);
  }
  const pinnedClasses = new Map<number, string>();
  for (const e of pinned) {
    const root = uf.find(e);
    if (!pinnedClasses.has(root)) pinnedClasses.set(root, pinReason.get(e)!);
  }

  // 4. Groups: producers linked through shared classes.
  const producerUf = new UnionFind(producerOrder.length);
  const producerIndex = new Map(producerOrder.map((id, i) => [id, i]));
  for (const members of classMembers.values()) {
    for (const m of members.slice(1)) {
      producerUf.union(producerIndex.get(members[0]!.node)!, producerIndex.get(m.node)!);
    }
  }
  const groupIndexOfRoot = new Map<number, number>();
  const groups: DependencyGroup[] = [];
  for (const [p, id] of producerOrder.entries()) {
    const root = producerUf.find(p);
    let gi = groupIndexOfRoot.get(root);
    if (gi === undefined) {
      gi = groups.length;
      groupIndexOfRoot.set(root, gi);
      groups.push({ id, producers: [], channels: [], prunable: true, scoredBy: [] });
    }
    groups[gi]!.producers.push(id);
  }
  const groupOfClass = new Map<number, number>();
  for (const [root, members] of [...classMembers.entries()].sort((a, b) => a[0] - b[0])) {
    const gi = groupIndexOfRoot.get(producerUf.find(producerIndex.get(members[0]!.node)!))!;
    groups[gi]!.channels.push({ id: root, members });
    groupOfClass.set(root, gi);
  }

  // 5. Scoring activations.
  for (const node of graph.nodes) {
    if (!ACTIVATION_OPS.has(node.op)) continue;
    const seen = new Set<number>();
    for (const e of elements.get(node.id)!) seen.add(groupOfClass.get(uf.find(e))!);
    for (const gi of seen) groups[gi]!.scoredBy.push(node.id);
  }

  // 6. Prunability.
  const stem = firstStemConv(graph);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  for (const group of groups) {
    const reasons: string[] = [];
    for (const id of group.producers) {
      const node = byId.get(id)!;
      if (id === graph.output) reasons.push(`${id} makes the logits`);
      else if (node.op === 'input') reasons.push(`${id} is the model input`);
      else if (id === stem && !pruneStem) reasons.push(`${id} is the stem (pruneStem off)`);
      else if (node.op === 'dense' && node.tags?.role !== 'body' && !pruneClassifier) {
        reasons.push(`${id} is in the classifier head (pruneClassifier off)`);
      }
    }
    const pinnedWhy = group.channels.map((c) => pinnedClasses.get(c.id)).find((r) => r);
    if (pinnedWhy) reasons.push(pinnedWhy);
    if (group.scoredBy.length === 0) reasons.push('no ReLU/ReLU6 output carries these channels');
    if (reasons.length) {
      group.prunable = false;
      group.reason = [...new Set(reasons)].join('; ');
    }
  }

  return { graph, shapes, groups, elements, classOf: (e) => uf.find(e), groupOfClass };
}
