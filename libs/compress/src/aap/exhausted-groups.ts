/**
 * Layer groups a model has no channel left to give [ours].
 *
 * When the only change a round made to its parent was the smallest cut one group allows (one
 * channel, or one channel multiple under `--channel-multiple`) and that round failed the
 * accuracy guard, no threshold can cut that group less (for several groups at their smallest
 * cut, see `exhaustedGroups`). The policy halves λ after the failure, but every threshold that
 * still reaches the group remakes the same cut, and its repeats count as failures until the
 * parent is popped: the search then unwinds without ever trying the other groups. A VGG-8/4 latency search at a multiple of 8 ended so, its threshold stuck on an
 * 8-channel cut of one full-resolution conv. Later cuts from that parent and its descendants
 * leave such a group whole, so the threshold moves on to the groups that can still give
 * channels.
 */
import type { DependencyAnalysis } from '../pruning';
import {
  type ChannelRule,
  type GroupPlan,
  nextEffectiveThreshold,
  smallestCut,
} from './threshold-plan';

/** What a recorded round says about its cut: enough to spot a failed smallest cut. */
export interface JudgedCut {
  round: number;
  startFrom: number;
  groups: readonly GroupPlan[];
  feasible: boolean;
  verdict: 'kept' | 'rolled-back' | 'baseline';
}

/**
 * Ids of the groups to leave whole in cuts from `parent`. A failed cut that took one group's
 * smallest cut exhausts that group for that model and every model pruned from it: with fewer
 * channels elsewhere, the same loss does not get easier to bear, and each descendant would
 * otherwise spend a fine-tuning round to find that out again. A failed cut that took the
 * smallest cut of several groups from `parent` cannot say which of them broke the model, and
 * no threshold cuts any of them less: its groups are tried one at a time, in network order, so
 * all but the first not yet exhausted are left whole until that one's own cut has been judged.
 */
export function exhaustedGroups(
  trajectory: readonly JudgedCut[],
  parent: number,
  rule: ChannelRule,
): Set<string> {
  const lineage = new Set<number>();
  for (let r: number | undefined = parent; r !== undefined && !lineage.has(r);) {
    lineage.add(r);
    r = trajectory.find((x) => x.round === r)?.startFrom;
  }
  const failedSmallest = (from: number): string[][] =>
    trajectory.flatMap((r) => {
      if (r.startFrom !== from || r.verdict !== 'rolled-back' || r.feasible) return [];
      const shrunk = r.groups.filter((g) => g.kept < g.channels);
      const smallest = shrunk.every((g) => g.channels - g.kept === smallestCut(g.channels, rule));
      return shrunk.length > 0 && smallest ? [shrunk.map((g) => g.group)] : [];
    });
  const exhausted = new Set(
    [...lineage].flatMap((m) => failedSmallest(m).flatMap((c) => (c.length === 1 ? c : []))),
  );
  const leftWhole = new Set(exhausted);
  for (const groups of failedSmallest(parent)) {
    const next = groups.find((g) => !exhausted.has(g));
    for (const g of groups) if (g !== next) leftWhole.add(g);
  }
  return leftWhole;
}

/** The threshold shares without the exhausted groups: a group without a share is left whole. */
export function withoutGroups(
  shares: ReadonlyMap<number, number>,
  analysis: DependencyAnalysis,
  groups: ReadonlySet<string>,
): Map<number, number> {
  const kept = new Map(shares);
  if (groups.size === 0) return kept;
  analysis.groups.forEach((g, gi) => {
    if (groups.has(g.id)) kept.delete(gi);
  });
  return kept;
}

/**
 * The shares a round from `parent` plans with, and the groups they leave whole. When the
 * exhausted groups are the only ones that could still give a channel, nothing is left whole:
 * the failed cut is made again and the policy's failures decide, as specified.
 */
export function sharesLeavingExhausted(
  trajectory: readonly JudgedCut[],
  parent: number,
  analysis: DependencyAnalysis,
  scores: ReadonlyMap<number, number>,
  shares: ReadonlyMap<number, number>,
  rule: ChannelRule,
): { shares: ReadonlyMap<number, number>; leftWhole: Set<string> } {
  const leftWhole = exhaustedGroups(trajectory, parent, rule);
  const reduced = withoutGroups(shares, analysis, leftWhole);
  return Number.isFinite(nextEffectiveThreshold(analysis, scores, reduced, rule))
    ? { shares: reduced, leftWhole }
    : { shares, leftWhole: new Set() };
}
