/**
 * Baselines run in the same engine as AAP, pruned once to a parameter budget and fine-tuned with
 * the same total training budget:
 * - L1-norm filter pruning (Li et al.): in every group, remove the same fraction of channels,
 *   those with the smallest kernel L1 norm (summed over the tied producers).
 * - one-shot attention pruning: AAP's scores and threshold rule, but a single threshold found by
 *   search for the budget, no adaptive rounds.
 */
import type { Dataset, Model } from '@edgecompress/engine';
import {
  type DependencyAnalysis,
  type DependencyOptions,
  analyzeDependencies,
  modelCost,
  removeChannels,
} from '../pruning';
import { type AttentionOptions, computeAttentionScores } from './attention-scores';
import { type FineTuneBudget, fineTune } from './fine-tune';
import { holdOut } from './aap-pruner';
import {
  type ThresholdWeighting,
  classScores,
  groupShares,
  planAtThreshold,
} from './threshold-plan';
import { evaluate, initEngineBackend } from '@edgecompress/engine';

export interface BudgetPruningOptions extends DependencyOptions {
  /** Parameter count to reach (<=). */
  targetParams: number;
  fineTune: FineTuneBudget;
  minChannels?: number;
  /** One-shot attention: every group keeps a multiple of this many channels (default 1). */
  channelMultiple?: number;
  validationCount?: number;
  /** Each fine-tuning step (the baselines fine-tune as long as a whole AAP lineage). */
  onStep?: (step: { step: number; totalSteps: number; loss: number }) => void;
}

export interface BudgetPruningResult {
  method: 'l1-norm' | 'one-shot-attention';
  model: Model;
  params: number;
  flops: number;
  /** Parameters before pruning (same counting as AAP). */
  baselineParams: number;
  testAccuracy: number;
  /** Accuracy right after pruning, before fine-tuning. */
  prunedTestAccuracy: number;
  provenance: Record<string, unknown>;
}

/** Sum over a class's producers of the L1 norm of each producer's output-channel kernel slice. */
export function l1ClassScores(model: Model, analysis: DependencyAnalysis): Map<number, number> {
  const out = new Map<number, number>();
  for (const group of analysis.groups) {
    for (const cls of group.channels) {
      let sum = 0;
      for (const m of cls.members) {
        const kernel = model.weights.get(`${m.node}/kernel`);
        if (!kernel) continue;
        const outC = kernel.shape[kernel.shape.length - 1]!;
        for (let i = m.channel; i < kernel.data.length; i += outC) sum += Math.abs(kernel.data[i]!);
      }
      out.set(cls.id, sum);
    }
  }
  return out;
}

/** Removes the lowest-ranked fraction `ratio` of each prunable group. */
function removeUniform(
  analysis: DependencyAnalysis,
  scores: ReadonlyMap<number, number>,
  ratio: number,
  minChannels: number,
): Set<number> {
  const removed = new Set<number>();
  for (const g of analysis.groups) {
    if (!g.prunable) continue;
    const n = Math.min(
      Math.floor(ratio * g.channels.length),
      g.channels.length - Math.max(1, minChannels),
    );
    const ranked = [...g.channels].sort(
      (a, b) => scores.get(a.id)! - scores.get(b.id)! || a.id - b.id,
    );
    for (const c of ranked.slice(0, Math.max(0, n))) removed.add(c.id);
  }
  return removed;
}

/** Binary search of a monotone knob for the least pruning that reaches the parameter budget. */
function searchBudget(
  model: Model,
  analysis: DependencyAnalysis,
  removedAt: (knob: number) => Set<number>,
  hi: number,
  targetParams: number,
): { removed: Set<number>; knob: number } {
  const paramsAt = (k: number): number =>
    modelCost(removeChannels(model, analysis, removedAt(k)).model).params;
  if (paramsAt(hi) > targetParams) {
    throw new RangeError(
      `the parameter budget ${targetParams} is below what pruning every group to its minimum reaches (${paramsAt(hi)})`,
    );
  }
  let lo = 0;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (paramsAt(mid) <= targetParams) hi = mid;
    else lo = mid;
  }
  return { removed: removedAt(hi), knob: hi };
}

async function finish(
  method: BudgetPruningResult['method'],
  model: Model,
  pruned: Model,
  dataset: Dataset,
  options: BudgetPruningOptions,
  provenance: Record<string, unknown>,
): Promise<BudgetPruningResult> {
  const validationCount =
    options.validationCount ?? Math.min(5000, Math.floor(dataset.train.count / 10));
  const { fit } = holdOut(dataset, validationCount);
  const prunedTestAccuracy = evaluate(pruned, dataset.test).accuracy;
  const onStep = options.onStep;
  const tuned = await fineTune(
    pruned,
    dataset,
    fit,
    options.fineTune,
    0,
    onStep
      ? (p) => {
          if (p.kind === 'step')
            onStep({ step: p.globalStep, totalSteps: p.totalSteps, loss: p.loss });
        }
      : undefined,
  );
  const cost = modelCost(tuned);
  return {
    method,
    model: tuned,
    params: cost.params,
    flops: cost.flops,
    baselineParams: modelCost(model).params,
    testAccuracy: evaluate(tuned, dataset.test).accuracy,
    prunedTestAccuracy,
    provenance: {
      method,
      targetParams: options.targetParams,
      fineTune: options.fineTune,
      ...provenance,
    },
  };
}

export async function l1NormPruning(
  model: Model,
  dataset: Dataset,
  options: BudgetPruningOptions,
): Promise<BudgetPruningResult> {
  await initEngineBackend();
  const analysis = analyzeDependencies(model.graph, options);
  const scores = l1ClassScores(model, analysis);
  const minChannels = options.minChannels ?? 1;
  const { removed, knob } = searchBudget(
    model,
    analysis,
    (ratio) => removeUniform(analysis, scores, ratio, minChannels),
    1,
    options.targetParams,
  );
  const pruned = removeChannels(model, analysis, removed).model;
  return finish('l1-norm', model, pruned, dataset, options, {
    ratio: knob,
    removedChannels: removed.size,
  });
}

export async function oneShotAttentionPruning(
  model: Model,
  dataset: Dataset,
  options: BudgetPruningOptions & { weighting?: ThresholdWeighting; attention?: AttentionOptions },
): Promise<BudgetPruningResult> {
  await initEngineBackend();
  const analysis = analyzeDependencies(model.graph, options);
  const validationCount =
    options.validationCount ?? Math.min(5000, Math.floor(dataset.train.count / 10));
  const { fit } = holdOut(dataset, validationCount);
  const scores = classScores(analysis, computeAttentionScores(model, fit, options.attention));
  const shares = groupShares(model, analysis, options.weighting ?? 'params');
  const minChannels = options.minChannels ?? 1;
  // A threshold past every score/share ratio prunes every group to its minimum.
  let top = 0;
  for (const [gi, share] of shares) {
    for (const c of analysis.groups[gi]!.channels)
      top = Math.max(top, (scores.get(c.id) ?? 0) / share);
  }
  const { removed, knob } = searchBudget(
    model,
    analysis,
    (t) =>
      planAtThreshold(analysis, scores, shares, t, {
        minChannels,
        multiple: options.channelMultiple ?? 1,
      }).removed,
    top * 1.01 + 1e-9,
    options.targetParams,
  );
  const pruned = removeChannels(model, analysis, removed).model;
  return finish('one-shot-attention', model, pruned, dataset, options, {
    threshold: knob,
    removedChannels: removed.size,
  });
}
