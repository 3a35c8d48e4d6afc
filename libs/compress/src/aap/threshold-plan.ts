/**
 * From attention scores to a set of channels to remove: each dependency group g prunes the
 * channels whose (summed) score is <= T · w_g, where w_g is the group's share of the prunable
 * parameters, FLOPs or predicted latency; a group always keeps `minChannels`, and with a
 * `multiple` it keeps a multiple of that many channels (or all it has). With `maxCutFraction`
 * one plan takes at most that share of a group's channels.
 */
import type { Model } from '@edgecompress/engine';
import { type DependencyAnalysis, nodeFlops, nodeParams } from '../pruning';
import type { AttentionScores } from './attention-scores';

export type ThresholdWeighting = 'params' | 'flops' | 'latency';

/** Sum of the scores of every activation position that carries the class. */
export function classScores(
  analysis: DependencyAnalysis,
  scores: AttentionScores,
): Map<number, number> {
  const out = new Map<number, number>();
  const activations = new Set(analysis.groups.flatMap((g) => g.scoredBy));
  for (const id of activations) {
    const values = scores.get(id);
    const els = analysis.elements.get(id)!;
    if (!values) throw new Error(`no attention scores for activation ${id}`);
    if (values.length !== els.length) {
      throw new Error(`activation ${id} has ${values.length} scores for ${els.length} channels`);
    }
    for (let i = 0; i < els.length; i++) {
      const cls = analysis.classOf(els[i]!);
      out.set(cls, (out.get(cls) ?? 0) + values[i]!);
    }
  }
  return out;
}

/**
 * Each prunable group's share of the prunable cost (sums to 1 over prunable groups).
 * `latencyByNode` (ms per node, from a latency predictor) is required for the latency weighting.
 */
export function groupShares(
  model: Model,
  analysis: DependencyAnalysis,
  weighting: ThresholdWeighting,
  latencyByNode?: ReadonlyMap<string, number>,
): Map<number, number> {
  let cost: ReadonlyMap<string, number>;
  if (weighting === 'params') cost = nodeParams(model);
  else if (weighting === 'flops') cost = nodeFlops(model.graph);
  else if (latencyByNode) cost = latencyByNode;
  else throw new Error('the latency weighting needs per-layer latencies from the oracle');
  const raw = new Map<number, number>();
  let total = 0;
  analysis.groups.forEach((g, gi) => {
    if (!g.prunable) return;
    const c = g.producers.reduce((s, p) => s + (cost.get(p) ?? 0), 0);
    raw.set(gi, c);
    total += c;
  });
  if (total <= 0) throw new Error(`the prunable layers have no ${weighting} to share`);
  for (const [gi, c] of raw) raw.set(gi, c / total);
  return raw;
}

/** What a group may be left with. */
export interface ChannelRule {
  /** Channels every group keeps (default 1). */
  minChannels?: number;
  /**
   * Kept counts are rounded up to a multiple of this (default 1: no rounding). CPU kernels
   * vectorise over channels in blocks (8 floats in an AVX register; ORT's NCHWc layout); a
   * count just past a block boundary can run slower than the next block up.
   */
  multiple?: number;
  /**
   * The largest share of a group's channels one plan may remove (default 1: no cap) [ours].
   * Shares are taken from the current model, so once other layers have shrunk a group's share
   * grows and the same T can put its threshold above nearly all of its scores; without a cap
   * such a round takes the group to one channel however small the step. The cap removes the
   * lowest-scored channels and leaves the rest to the next round. A group may always lose one.
   */
  maxCutFraction?: number;
}

export function validateChannelRule(rule: ChannelRule): void {
  const multiple = rule.multiple ?? 1;
  if (!(Number.isInteger(multiple) && multiple >= 1))
    throw new RangeError(`the channel multiple must be an integer >= 1, got ${multiple}`);
  const cut = rule.maxCutFraction ?? 1;
  if (!(cut > 0 && cut <= 1))
    throw new RangeError(`the largest cut per round must be in (0, 1], got ${cut}`);
}

/** How many of a group's `count` channels one plan may remove. */
function removableCount(count: number, rule: ChannelRule): number {
  const keep = Math.max(0, count - Math.max(1, rule.minChannels ?? 1));
  const cap = Math.max(1, Math.floor(count * (rule.maxCutFraction ?? 1) + 1e-9));
  return Math.min(keep, cap);
}

/** How many of a group's `count` channels go when `wanted` qualify, after the rule's rounding. */
function roundedRemoval(count: number, wanted: number, multiple: number): number {
  if (multiple <= 1 || wanted === 0) return wanted;
  const kept = Math.min(count, Math.ceil((count - wanted) / multiple) * multiple);
  return count - kept;
}

/** The fewest qualifying channels that make the group lose any (Infinity if it never can). */
function smallestEffectiveRemoval(count: number, maxRemovable: number, multiple: number): number {
  const needed = multiple <= 1 ? 1 : count - (Math.ceil(count / multiple) - 1) * multiple;
  return needed >= 1 && needed <= maxRemovable ? needed : Infinity;
}

/** The fewest channels a group of `count` can lose in one plan under the rule (0: none). */
export function smallestCut(count: number, rule: ChannelRule = {}): number {
  const multiple = rule.multiple ?? 1;
  const needed = smallestEffectiveRemoval(count, removableCount(count, rule), multiple);
  return Number.isFinite(needed) ? roundedRemoval(count, needed, multiple) : 0;
}

export interface GroupPlan {
  group: string;
  channels: number;
  kept: number;
  threshold: number;
}

export interface PruningPlan {
  threshold: number;
  removed: Set<number>;
  groups: GroupPlan[];
}

export function planAtThreshold(
  analysis: DependencyAnalysis,
  scores: ReadonlyMap<number, number>,
  shares: ReadonlyMap<number, number>,
  threshold: number,
  rule: ChannelRule = {},
): PruningPlan {
  const multiple = rule.multiple ?? 1;
  const removed = new Set<number>();
  const groups: GroupPlan[] = [];
  analysis.groups.forEach((g, gi) => {
    const share = shares.get(gi);
    if (!g.prunable || share === undefined) return;
    const limit = threshold * share;
    const ranked = g.channels
      .map((c) => ({ id: c.id, score: scores.get(c.id) ?? 0 }))
      .sort((a, b) => a.score - b.score || a.id - b.id);
    const maxRemovable = removableCount(g.channels.length, rule);
    let wanted = 0;
    while (wanted < maxRemovable && ranked[wanted]!.score <= limit) wanted++;
    const n = roundedRemoval(g.channels.length, wanted, multiple);
    for (const c of ranked.slice(0, n)) removed.add(c.id);
    groups.push({
      group: g.id,
      channels: g.channels.length,
      kept: g.channels.length - n,
      threshold: limit,
    });
  });
  return { threshold, removed, groups };
}

/**
 * The smallest threshold that removes at least one channel under the rule, or Infinity when no
 * group can lose a channel. Used to skip rounds that would prune nothing.
 */
export function nextEffectiveThreshold(
  analysis: DependencyAnalysis,
  scores: ReadonlyMap<number, number>,
  shares: ReadonlyMap<number, number>,
  rule: ChannelRule = {},
): number {
  const multiple = rule.multiple ?? 1;
  let best = Infinity;
  analysis.groups.forEach((g, gi) => {
    const share = shares.get(gi);
    if (!g.prunable || !share) return;
    const maxRemovable = removableCount(g.channels.length, rule);
    const needed = smallestEffectiveRemoval(g.channels.length, maxRemovable, multiple);
    if (!Number.isFinite(needed)) return;
    const ranked = g.channels.map((c) => scores.get(c.id) ?? 0).sort((a, b) => a - b);
    best = Math.min(best, ranked[needed - 1]! / share);
  });
  return best;
}

/**
 * The default λ, scaled to the model: the threshold at which a fraction `firstStepFraction`
 * (default 5%) of the prunable channels with nonzero scores would go. A channel goes once
 * T >= score / w_g, so this is that quantile of score / w_g over prunable channels. The first
 * step is then meaningful but gentle at any score scale and any spread of layer shares.
 */
export function defaultLambda(
  analysis: DependencyAnalysis,
  scores: ReadonlyMap<number, number>,
  shares: ReadonlyMap<number, number>,
  firstStepFraction = 0.05,
): number {
  const ratios: number[] = [];
  analysis.groups.forEach((g, gi) => {
    const share = shares.get(gi);
    if (!g.prunable || !share) return;
    for (const c of g.channels) {
      const s = scores.get(c.id) ?? 0;
      if (s > 0) ratios.push(s / share);
    }
  });
  if (!ratios.length) return 1;
  ratios.sort((a, b) => a - b);
  return ratios[Math.min(ratios.length - 1, Math.floor(firstStepFraction * ratios.length))]!;
}
