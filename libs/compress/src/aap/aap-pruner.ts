/**
 * Automatic Attention Pruning: rounds of (score, prune at T, fine-tune, judge) driven by the
 * adaptive policy until the objective's semantics say stop. Every round's state is recorded; the
 * result is the best feasible round with its provenance.
 */
import {
  type Dataset,
  type Model,
  type Split,
  evaluate,
  initEngineBackend,
} from '@edgecompress/engine';
import { type LatencyMeasurement, type LatencyOracle, assertDeviceKnown } from '../latency';
import {
  type ModelMetrics,
  type Objective,
  ObjectiveError,
  assertTargetNotMet,
  describeObjective,
  judge,
  validateObjective,
} from '../objective';
import { analyzeDependencies, modelCost, removeChannels } from '../pruning';
import {
  type AdaptivePolicyConfig,
  type PolicyDecision,
  type PolicyState,
  type StopReason,
  decide,
  initialPolicyState,
} from './adaptive-policy';
import type { AapOptions, AapResult, RoundMetrics, RoundRecord } from './aap-types';
import { computeAttentionScores } from './attention-scores';
import { sharesLeavingExhausted } from './exhausted-groups';
import { findRepeatedCut } from './repeated-cuts';
import { fineTune, validateBudget } from './fine-tune';
import {
  type ThresholdWeighting,
  classScores,
  defaultLambda,
  groupShares,
  nextEffectiveThreshold,
  planAtThreshold,
  validateChannelRule,
} from './threshold-plan';

/** Training split minus a validation tail: the policy never sees test data. */
export function holdOut(dataset: Dataset, count: number): { fit: Split; validation: Split } {
  const split = dataset.train;
  const size = dataset.inputShape[0] * dataset.inputShape[1] * dataset.inputShape[2];
  if (!split.labels) throw new Error(`${dataset.name}: AAP needs a labeled training split`);
  if (!(count >= 1 && count < split.count)) {
    throw new RangeError(`validationCount must be in [1, ${split.count - 1}], got ${count}`);
  }
  const cut = split.count - count;
  return {
    fit: {
      images: split.images.subarray(0, cut * size),
      labels: split.labels.subarray(0, cut),
      count: cut,
    },
    validation: {
      images: split.images.subarray(cut * size),
      labels: split.labels.subarray(cut),
      count,
    },
  };
}

function defaultWeighting(objective: Objective): ThresholdWeighting {
  if (objective.metric === 'latency') return 'latency';
  if (objective.metric === 'flops') return 'flops';
  return 'params';
}

/** Which reduction ranks feasible rounds when no target was reached. */
function rankMetric(objective: Objective, weighting: ThresholdWeighting): keyof ModelMetrics {
  switch (objective.metric) {
    case 'flops':
      return 'flops';
    case 'size':
      return 'sizeBytes';
    case 'latency':
      return 'latencyMs';
    case 'params':
      return 'params';
    case 'accuracy':
      return weighting === 'flops' ? 'flops' : 'params';
  }
}

export async function runAap(
  input: Model,
  dataset: Dataset,
  options: AapOptions,
  oracle?: LatencyOracle,
): Promise<AapResult> {
  const objective = validateObjective(options.objective);
  validateBudget(options.fineTune);
  await initEngineBackend();
  const now = options.now ?? (() => Date.now());
  const resume = options.resumeFrom;
  const started = now() - (resume?.elapsedMs ?? 0);
  const startedAt = resume?.startedAt ?? new Date().toISOString();
  const emit = options.onProgress ?? (() => undefined);
  const needLatency = objective.metric === 'latency';
  if (needLatency && !oracle) {
    throw new ObjectiveError('the latency objective needs a latency oracle');
  }
  if (needLatency) await assertDeviceKnown(oracle!, objective.device!);
  const device = objective.device;
  const measureLatency = async (
    model: Model,
    fresh = false,
  ): Promise<LatencyMeasurement | undefined> =>
    oracle && device ? oracle.measure(model, device, { fresh }) : undefined;

  const validationCount =
    options.validationCount ?? Math.min(5000, Math.floor(dataset.train.count / 10));
  const { fit, validation } = holdOut(dataset, validationCount);
  const depOptions = {
    pruneStem: options.pruneStem ?? true,
    pruneClassifier: options.pruneClassifier ?? false,
  };
  const minChannels = options.minChannels ?? 1;
  const channelRule = {
    minChannels,
    multiple: options.channelMultiple ?? 1,
    maxCutFraction: options.maxGroupCut ?? 1,
  };
  validateChannelRule(channelRule);
  const calibration = {
    batches: options.calibrationBatches ?? 8,
    batchSize: options.calibrationBatchSize ?? 64,
    power: options.power ?? 1,
  };

  const metricsOf = async (
    model: Model,
    withTest: boolean,
    against?: RoundMetrics,
  ): Promise<RoundMetrics> => {
    const cost = modelCost(model);
    const accuracy = evaluate(model, validation).accuracy;
    // Same rounding as judge(): a round over the drop budget is rejected whatever its latency.
    const rejected =
      against !== undefined &&
      Math.round((against.accuracy - accuracy) * 100 * 1e9) / 1e9 > objective.maxAccuracyDrop;
    const latency =
      rejected && options.rejectedLatency && device
        ? await options.rejectedLatency(model, device)
        : await measureLatency(model);
    return {
      accuracy,
      ...(withTest ? { testAccuracy: evaluate(model, dataset.test).accuracy } : {}),
      ...cost,
      ...(latency ? { latencyMs: latency.p50Ms, latencySource: latency.source } : {}),
    };
  };

  // A round that meets a latency target ends the search, so one lucky measurement must not
  // decide it: measure again and keep the slower p50 (a stop on a figure the delivered model
  // did not have beside its parent is the failure this guards against).
  const confirmTargetLatency = async (
    model: Model,
    metrics: RoundMetrics,
  ): Promise<RoundMetrics> => {
    if (objective.metric !== 'latency' || metrics.latencyMs === undefined) return metrics;
    const first = judge(objective, baseline, metrics);
    if (!first.feasible || !first.targetReached) return metrics;
    const again = await measureLatency(model, true);
    if (!again) return metrics;
    const checks = [metrics.latencyMs, again.p50Ms];
    return { ...metrics, latencyMs: Math.max(...checks), latencyChecksMs: checks };
  };

  // Round 0: the unpruned model (measured once: a resumed search takes it from the checkpoint).
  const baseline = resume?.baseline ?? (await metricsOf(input, true));
  if (needLatency && !resume) assertTargetNotMet(objective, baseline);
  let weighting = resume?.weighting ?? options.weighting ?? defaultWeighting(objective);
  let weightingNote: string | undefined = resume?.weightingNote;
  const perNodeMs = async (model: Model): Promise<ReadonlyMap<string, number> | undefined> =>
    weighting === 'latency' ? (await measureLatency(model))?.perNodeMs : undefined;
  if (!resume && weighting === 'latency' && !(await perNodeMs(input))) {
    weightingNote = `the ${objective.latencySource} latency oracle gives no per-layer times; thresholds are weighted by FLOPs`;
    weighting = 'flops';
  }
  const initialLambda = async (): Promise<number> => {
    const baseAnalysis = analyzeDependencies(input.graph, depOptions);
    const baseScores = classScores(baseAnalysis, computeAttentionScores(input, fit, calibration));
    return defaultLambda(
      baseAnalysis,
      baseScores,
      groupShares(input, baseAnalysis, weighting, await perNodeMs(input)),
    );
  };
  const lambda = resume?.lambda ?? options.lambda ?? (await initialLambda());
  const policy: AdaptivePolicyConfig = {
    initialThreshold: options.initialThreshold ?? 0,
    lambda,
    resetLimit: options.resetLimit ?? 3,
    lambdaFloor: options.lambdaFloor ?? lambda / 1024,
    maxRounds: options.maxRounds ?? 100,
    ...(options.wallClockMs !== undefined ? { wallClockMs: options.wallClockMs } : {}),
  };
  let state: PolicyState = resume?.state ?? initialPolicyState(policy);

  const baseVerdict = judge(objective, baseline, baseline);
  const trajectory: RoundRecord[] = resume
    ? [...resume.trajectory]
    : [
        {
          round: 0,
          startFrom: 0,
          threshold: 0,
          lambda,
          skippedSteps: 0,
          removedChannels: 0,
          groups: [],
          metrics: baseline,
          dropPoints: 0,
          reduction: 0,
          feasible: true,
          targetReached: baseVerdict.targetReached,
          verdict: 'baseline',
          seconds: (now() - started) / 1000,
        },
      ];
  if (!resume) emit({ kind: 'baseline', record: trajectory[0]!, lambda, weighting });

  const models = new Map<number, Model>(resume ? resume.models : [[0, input]]);
  const decisions: PolicyDecision[] = resume ? [...resume.decisions] : [];
  const rank = rankMetric(objective, weighting);
  let best = trajectory.find((r) => r.round === (resume?.bestRound ?? 0));
  if (!best)
    throw new RangeError(`checkpoint: best round ${resume?.bestRound} is not in its trajectory`);
  const better = (a: RoundRecord, b: RoundRecord): boolean => {
    if (a.targetReached !== b.targetReached) return a.targetReached;
    const va = a.metrics[rank] as number;
    const vb = b.metrics[rank] as number;
    return va < vb || (va === vb && a.metrics.accuracy > b.metrics.accuracy);
  };
  let stopReason: StopReason | 'nothing-to-prune' | 'aborted' | null = null;
  let bestModel = models.get(best.round);
  if (!bestModel)
    throw new RangeError(`checkpoint: the model of best round ${best.round} is missing`);
  const checkpoint = async (): Promise<void> => {
    if (!options.onCheckpoint) return;
    const live = new Set([...state.track.map((t) => t.round), state.startFrom]);
    const kept = new Map([...models].filter(([r]) => live.has(r)));
    kept.set(best!.round, bestModel!);
    await options.onCheckpoint({
      lambda,
      weighting,
      ...(weightingNote ? { weightingNote } : {}),
      baseline,
      state,
      trajectory: [...trajectory],
      decisions: [...decisions],
      bestRound: best!.round,
      elapsedMs: now() - started,
      startedAt,
      models: kept,
    });
  };
  if (!resume) await checkpoint();

  while (!state.stopped) {
    if (options.signal?.aborted) {
      stopReason = 'aborted';
      break;
    }
    const roundStart = now();
    const round = state.round;
    const from = models.get(state.startFrom);
    if (!from) throw new Error(`internal: the model of round ${state.startFrom} was released`);
    const analysis = analyzeDependencies(from.graph, depOptions);
    const scores = classScores(analysis, computeAttentionScores(from, fit, calibration));
    // A group whose smallest cut from this model already failed is left whole (exhausted-groups.ts).
    const { shares, leftWhole } = sharesLeavingExhausted(
      trajectory,
      state.startFrom,
      analysis,
      scores,
      groupShares(from, analysis, weighting, await perNodeMs(from)),
      channelRule,
    );
    // Thresholds that would remove nothing are skipped in whole λ steps (no training needed).
    let threshold = state.threshold;
    let plan = planAtThreshold(analysis, scores, shares, threshold, channelRule);
    let skippedSteps = 0;
    if (plan.removed.size === 0) {
      const effective = nextEffectiveThreshold(analysis, scores, shares, channelRule);
      if (!Number.isFinite(effective)) {
        stopReason = 'nothing-to-prune';
        break;
      }
      skippedSteps = Math.max(1, Math.ceil((effective - threshold) / state.lambda - 1e-9));
      threshold += skippedSteps * state.lambda;
      plan = planAtThreshold(analysis, scores, shares, threshold, channelRule);
      state = { ...state, threshold };
    }
    const { model: pruned } = removeChannels(from, analysis, plan.removed);
    emit({
      kind: 'round-start',
      round,
      threshold,
      lambda: state.lambda,
      removedChannels: plan.removed.size,
      params: modelCost(pruned).params,
    });
    // A cut that an earlier round made from this parent and that failed, or led only to
    // failures, is judged again from that round's metrics without fine-tuning (repeated-cuts.ts).
    const repeated = findRepeatedCut(trajectory, decisions, state.startFrom, plan.groups);
    const deadEnd = repeated?.deadEnd === true;
    let tuned: Model | undefined;
    let metrics: RoundMetrics;
    if (repeated) {
      metrics = trajectory.find((r) => r.round === repeated.original)!.metrics;
    } else {
      tuned = await fineTune(pruned, dataset, fit, options.fineTune, round, (p) => {
        if (p.kind === 'step') {
          emit({
            kind: 'fine-tune',
            round,
            step: p.globalStep,
            totalSteps: p.totalSteps,
            loss: p.loss,
          });
        }
      });
      metrics = await metricsOf(tuned, options.testEveryRound ?? false, baseline);
      metrics = await confirmTargetLatency(tuned, metrics);
    }
    const verdict = judge(objective, baseline, metrics);
    const step = decide(
      state,
      {
        feasible: verdict.feasible && !deadEnd,
        targetReached: verdict.targetReached,
        elapsedMs: now() - started,
      },
      policy,
    );
    decisions.push(step.decision);
    const record: RoundRecord = {
      round,
      startFrom: state.startFrom,
      threshold,
      lambda: state.lambda,
      skippedSteps,
      removedChannels: plan.removed.size,
      groups: plan.groups.filter((g) => g.kept < g.channels),
      metrics,
      dropPoints: verdict.dropPoints,
      reduction: verdict.reduction,
      feasible: verdict.feasible,
      targetReached: verdict.feasible && verdict.targetReached,
      verdict: step.decision.verdict,
      decision: step.decision,
      ...(repeated ? { repeatOf: repeated.original } : {}),
      ...(deadEnd ? { deadEnd: true } : {}),
      ...(leftWhole.size > 0 ? { leftWhole: [...leftWhole].sort() } : {}),
      seconds: (now() - roundStart) / 1000,
    };
    trajectory.push(record);
    emit({ kind: 'round', record });
    if (tuned) models.set(round, tuned);
    if (tuned && record.feasible && better(record, best)) {
      best = record;
      bestModel = tuned;
    }
    state = step.state;
    // Keep only the models the policy may return to.
    const live = new Set([...state.track.map((t) => t.round), state.startFrom]);
    for (const r of models.keys()) if (!live.has(r)) models.delete(r);
    await checkpoint();
  }
  stopReason ??= state.stopped!;
  emit({ kind: 'done', stopReason, bestRound: best.round });

  const final: RoundMetrics =
    best.metrics.testAccuracy !== undefined
      ? best.metrics
      : { ...best.metrics, testAccuracy: evaluate(bestModel, dataset.test).accuracy };
  const targetMet = objective.metric === 'accuracy' ? null : best.targetReached;
  const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
  const paramsCut = 1 - final.params / baseline.params;
  const flopsCut = 1 - final.flops / baseline.flops;
  const summary =
    `${describeObjective(objective)}: round ${best.round} of ${trajectory.length - 1}, ` +
    `params -${pct(paramsCut)}, FLOPs -${pct(flopsCut)}, ` +
    `validation drop ${best.dropPoints.toFixed(2)} pt` +
    (final.latencyMs !== undefined ? `, p50 ${final.latencyMs.toFixed(3)} ms` : '') +
    (targetMet === false
      ? `; TARGET NOT MET (${
          trajectory.some((r) => !r.feasible) ? 'accuracy broke first' : 'search stopped first'
        }): best feasible round returned`
      : '') +
    ` (stopped: ${stopReason})`;

  const {
    onProgress: _p,
    signal: _s,
    now: _n,
    onCheckpoint: _c,
    resumeFrom: _r,
    rejectedLatency: _l,
    ...recordable
  } = options;
  return {
    model: bestModel,
    round: best.round,
    metrics: final,
    baseline,
    targetMet,
    summary,
    trajectory,
    provenance: {
      method: 'aap',
      objective,
      options: {
        ...recordable,
        ...depOptions,
        minChannels,
        channelMultiple: channelRule.multiple,
        maxGroupCut: channelRule.maxCutFraction,
        calibration,
      },
      lambda,
      weighting,
      ...(weightingNote ? { weightingNote } : {}),
      validation: { from: 'train-holdout', count: validationCount },
      decisions,
      stopReason,
      startedAt,
      seconds: (now() - started) / 1000,
    },
  };
}
