import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  GraphExecutor,
  type Dataset,
  type Model,
  buildModel,
  initEngineBackend,
  syntheticDataset,
} from '@edgecompress/engine';
import { PredictedLatencyOracle } from '../latency';
import { ObjectiveError, parseObjective } from '../objective';
import {
  analyzeDependencies,
  maskChannels,
  modelCost,
  nodeFlops,
  removeChannels,
} from '../pruning';
import { tinyResNet } from '../pruning/test-models.fixture';
import type { AapEvent, AapOptions } from './aap-types';
import { runAap } from './aap-pruner';
import { computeAttentionScores } from './attention-scores';
import { classScores, groupShares, planAtThreshold } from './threshold-plan';
import { l1NormPruning, oneShotAttentionPruning } from './budget-pruning';

const data: Dataset = syntheticDataset({
  inputShape: [8, 8, 3],
  numClasses: 3,
  trainCount: 600,
  testCount: 200,
  seed: 3,
});

/** A predictor in FLOPs (1 MFLOP = 1 ms): deterministic, with per-layer times. */
const flopsOracle = new PredictedLatencyOracle({
  deviceIds: () => ['flops-box'],
  predict: (model) => {
    const perNode = new Map([...nodeFlops(model.graph)].map(([id, f]) => [id, f / 1e6]));
    return { totalMs: [...perNode.values()].reduce((a, b) => a + b, 0), perNodeMs: perNode };
  },
});

const quick = (spec: string, maxDrop: number, extra: Partial<AapOptions> = {}): AapOptions => ({
  objective: parseObjective(spec, { maxAccuracyDrop: maxDrop }),
  fineTune: { steps: 3, batchSize: 32, lr: 0.01 },
  validationCount: 100,
  calibrationBatches: 2,
  calibrationBatchSize: 32,
  maxRounds: 8,
  ...extra,
});

describe('AAP runner', () => {
  before(async () => {
    await initEngineBackend();
  });

  it('zero-scored channels are exactly the ones masked, and removing them keeps the function', () => {
    const model = buildModel('resnet8', { inputShape: [8, 8, 3], numClasses: 3, seed: 2 });
    const analysis = analyzeDependencies(model.graph);
    const masked = new Set<number>();
    for (const g of analysis.groups.filter((x) => x.prunable)) masked.add(g.channels[1]!.id);
    const maskedModel = maskChannels(model, analysis, masked);
    const scores = classScores(
      analysis,
      computeAttentionScores(maskedModel, data.train, { batches: 2, batchSize: 32 }),
    );
    for (const id of masked) assert.equal(scores.get(id), 0, `class ${id} scores 0`);
    const plan = planAtThreshold(analysis, scores, groupShares(model, analysis, 'params'), 0);
    assert.deepEqual([...plan.removed].sort(), [...masked].sort());
    const pruned = removeChannels(maskedModel, analysis, plan.removed).model;
    const x = tf.tensor(data.train.images.subarray(0, 16 * 192), [16, 8, 8, 3]) as tf.Tensor4D;
    const outs = [maskedModel, pruned].map((m) => {
      const ex = new GraphExecutor(m);
      const y = ex.forward(x, { training: false }).logits;
      const v = y.dataSync();
      y.dispose();
      ex.dispose();
      return v;
    });
    x.dispose();
    outs[0]!.forEach((v, i) => assert.ok(Math.abs(v - outs[1]![i]!) < 1e-4));
  });

  it('params target: stops at the first feasible round reaching it, records every round', async () => {
    const events: AapEvent[] = [];
    const result = await runAap(
      tinyResNet(),
      data,
      quick('params=0.3', 100, { onProgress: (e) => events.push(e) }),
    );
    assert.equal(result.provenance.stopReason, 'target-reached');
    assert.equal(result.targetMet, true);
    assert.ok(result.metrics.params <= 0.7 * result.baseline.params);
    assert.equal(modelCost(result.model).params, result.metrics.params);
    const rounds = result.trajectory.slice(1);
    assert.equal(rounds.length, result.provenance.decisions.length);
    assert.equal(events.filter((e) => e.kind === 'round').length, rounds.length);
    assert.equal(events[0]!.kind, 'baseline');
    assert.equal(events.at(-1)!.kind, 'done');
    // thresholds only grow while every round is kept
    for (let i = 1; i < rounds.length; i++)
      assert.ok(rounds[i]!.threshold > rounds[i - 1]!.threshold);
    assert.ok(result.metrics.testAccuracy !== undefined);
  });

  it('channel multiple: every round leaves each conv with a multiple of it, and the run still reaches its target', async () => {
    const input = tinyResNet();
    const filters = (m: Model): number[] =>
      m.graph.nodes.flatMap((n) => (n.op === 'conv2d' ? [n.attrs.filters] : []));
    assert.ok(filters(input).every((f) => f % 2 === 0));
    const result = await runAap(input, data, quick('params=0.3', 100, { channelMultiple: 2 }));
    assert.equal(result.targetMet, true);
    assert.ok(result.metrics.params <= 0.7 * result.baseline.params);
    const kept = filters(result.model);
    assert.ok(
      kept.every((f) => f % 2 === 0),
      `conv filters ${kept}`,
    );
    assert.notDeepEqual(kept, filters(input));
    assert.equal(result.provenance.options.channelMultiple, 2);
    await assert.rejects(
      runAap(input, data, quick('params=0.3', 100, { channelMultiple: 0 })),
      /channel multiple must be an integer >= 1, got 0/,
    );
  });

  it('accuracy objective with a zero drop budget never returns an infeasible round', async () => {
    const result = await runAap(tinyResNet(), data, quick('accuracy', 0, { maxRounds: 4 }));
    assert.equal(result.targetMet, null);
    const chosen = result.trajectory.find((r) => r.round === result.round)!;
    assert.ok(chosen.feasible);
    assert.ok(chosen.metrics.accuracy >= result.baseline.accuracy);
    for (const r of result.trajectory.slice(1)) {
      assert.equal(r.verdict, r.feasible ? 'kept' : 'rolled-back');
    }
  });

  it('a cut already rolled back from the same model is rejected again without fine-tuning', async () => {
    // A huge λ puts every group past its threshold and a 50 % cap bounds each cut. When the
    // only group left that can give fails its smallest cut, nothing else can be cut from that
    // model, so the halved step makes the same cut again.
    const cap = 0.5;
    const tuned = new Set<number>();
    const result = await runAap(
      tinyResNet(),
      data,
      quick('accuracy', 0, {
        lambda: 1e6,
        maxGroupCut: cap,
        maxRounds: 6,
        onProgress: (e: AapEvent) => {
          if (e.kind === 'fine-tune') tuned.add(e.round);
        },
      }),
    );
    const repeats = result.trajectory.filter((r) => r.repeatOf !== undefined);
    assert.ok(repeats.length > 0, 'some round repeated a rejected cut');
    for (const r of repeats) {
      const first = result.trajectory.find((x) => x.round === r.repeatOf)!;
      assert.equal(first.verdict, 'rolled-back');
      assert.equal(r.verdict, 'rolled-back');
      assert.equal(r.startFrom, first.startFrom);
      assert.deepEqual(
        r.groups.map((g) => [g.group, g.kept]),
        first.groups.map((g) => [g.group, g.kept]),
      );
      assert.deepEqual(r.metrics, first.metrics);
      assert.equal(tuned.has(r.round), false, `round ${r.round} was not fine-tuned`);
      assert.equal(tuned.has(first.round), true);
    }
    // no round took more than the cap allows, and the policy still halved λ
    for (const r of result.trajectory.slice(1)) {
      for (const g of r.groups) {
        const allowed = Math.max(1, Math.floor(g.channels * cap));
        assert.ok(g.channels - g.kept <= allowed, `${g.group} in round ${r.round}`);
      }
    }
    assert.ok(repeats.every((r) => r.lambda < 1e6));
  });

  it('after a failed cut of several groups at their smallest, they are tried one at a time', async () => {
    // A 67 % cap and a huge λ take every group down to two channels, then one each: the
    // smallest cut of several groups at once.
    const result = await runAap(
      tinyResNet(),
      data,
      quick('accuracy', 0, { lambda: 1e6, maxGroupCut: 0.67, maxRounds: 4 }),
    );
    const failed = result.trajectory.find((r) => !r.feasible && r.groups.length >= 2);
    assert.ok(failed, 'a cut of several groups failed the zero drop budget');
    for (const g of failed.groups) assert.equal(g.channels - g.kept, 1, `${g.group}: smallest`);
    const next = result.trajectory[failed.round + 1];
    assert.ok(next, 'the search went on');
    assert.equal(next.startFrom, failed.startFrom);
    assert.equal(next.repeatOf, undefined, 'not the same cut again');
    assert.deepEqual(
      next.groups.map((g) => g.group),
      [failed.groups[0]!.group],
      'only the first group of the failed cut',
    );
    assert.deepEqual(
      next.leftWhole,
      failed.groups
        .slice(1)
        .map((g) => g.group)
        .sort(),
    );
  });

  it('latency objective on a predicted device weights thresholds by predicted latency', async () => {
    const base = (await flopsOracle.measure(tinyResNet(), 'flops-box')).p50Ms;
    const target = base * 0.75;
    const result = await runAap(
      tinyResNet(),
      data,
      quick(`latency=${target}ms@flops-box`, 100),
      flopsOracle,
    );
    assert.equal(result.provenance.weighting, 'latency');
    assert.equal(result.targetMet, true);
    assert.ok(result.metrics.latencyMs! <= target);
    assert.equal(result.metrics.latencySource, 'predicted');
  });

  it('bad objectives fail before any training: unknown device, target already met, no oracle', async () => {
    await assert.rejects(
      runAap(tinyResNet(), data, quick('latency=1ms@pi-9', 1), flopsOracle),
      /unknown device "pi-9"/,
    );
    await assert.rejects(
      runAap(tinyResNet(), data, quick('latency=1000ms@flops-box', 1), flopsOracle),
      /target already met/,
    );
    await assert.rejects(
      runAap(tinyResNet(), data, quick('latency=1ms@flops-box', 1)),
      ObjectiveError,
    );
    await assert.rejects(
      runAap(tinyResNet(), data, {
        ...quick('params=0.5', 1),
        fineTune: { steps: -1, batchSize: 8, lr: 0.1 },
      }),
      /steps must be an integer >= 0/,
    );
  });

  it('baselines reach the same parameter budget', async () => {
    const model: Model = tinyResNet();
    const targetParams = Math.round(modelCost(model).params * 0.6);
    const common = {
      targetParams,
      fineTune: { steps: 3, batchSize: 32, lr: 0.01 },
      validationCount: 100,
    };
    const l1 = await l1NormPruning(model, data, common);
    const oneShot = await oneShotAttentionPruning(model, data, {
      ...common,
      attention: { batches: 2, batchSize: 32 },
    });
    for (const r of [l1, oneShot]) {
      assert.ok(r.params <= targetParams, `${r.method}: ${r.params} > ${targetParams}`);
      assert.ok(
        r.params > targetParams * 0.7,
        `${r.method} prunes near the budget, not far past it`,
      );
      assert.ok(r.testAccuracy >= 0 && r.testAccuracy <= 1);
    }
    await assert.rejects(
      l1NormPruning(model, data, { ...common, targetParams: 10 }),
      /below what pruning every group/,
    );
  });
});
