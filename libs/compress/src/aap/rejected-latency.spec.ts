import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initEngineBackend, syntheticDataset } from '@edgecompress/engine';
import type { LatencyMeasurement, LatencyOracle } from '../latency';
import { parseObjective } from '../objective';
import { modelCost } from '../pruning';
import { tinyResNet } from '../pruning/test-models.fixture';
import { runAap } from './aap-pruner';

const data = syntheticDataset({
  inputShape: [8, 8, 3],
  numClasses: 3,
  trainCount: 400,
  testCount: 100,
  seed: 9,
});

/** Latency = params / 1000 ms, counting the models it was asked about. */
function countingOracle(source: 'measured' | 'predicted'): LatencyOracle & { asked: number[] } {
  const asked: number[] = [];
  return {
    asked,
    devices: async () => ['board'],
    measure: async (model, device): Promise<LatencyMeasurement> => {
      const params = modelCost(model).params;
      asked.push(params);
      return { p50Ms: params / 1000, source, device };
    },
  };
}

describe('AAP latency of rounds that fail the accuracy guard', () => {
  before(async () => {
    await initEngineBackend();
  });

  it('comes from rejectedLatency, so the oracle (the fleet) measures only rounds that can be kept', async () => {
    const fleet = countingOracle('measured');
    const predictor = countingOracle('predicted');
    const result = await runAap(
      tinyResNet(),
      data,
      {
        objective: parseObjective('latency=0.001ms@board', {
          maxAccuracyDrop: 0,
          latencySource: 'measured',
        }),
        // A destructive learning rate: rounds lose accuracy and fail the zero drop budget.
        fineTune: { steps: 2, batchSize: 32, lr: 1000 },
        validationCount: 80,
        calibrationBatches: 1,
        calibrationBatchSize: 32,
        maxRounds: 5,
        weighting: 'flops',
        rejectedLatency: (model, device) => predictor.measure(model, device),
      },
      fleet,
    );
    const rounds = result.trajectory.slice(1);
    const rejected = rounds.filter((r) => !r.feasible);
    const feasible = rounds.filter((r) => r.feasible);
    assert.ok(rejected.length >= 1, `some rounds fail the guard: ${rounds.map((r) => r.verdict)}`);
    for (const r of rejected) assert.equal(r.metrics.latencySource, 'predicted');
    for (const r of feasible) assert.equal(r.metrics.latencySource, 'measured');
    assert.equal(
      result.trajectory[0]!.metrics.latencySource,
      'measured',
      'the baseline is measured',
    );
    // once per rejected round that was evaluated: a repeated cut reuses its first verdict
    assert.equal(predictor.asked.length, rejected.filter((r) => r.repeatOf === undefined).length);
    // Baseline (plus the weighting probe on it) and the feasible rounds, nothing else.
    assert.ok(fleet.asked.length <= 2 + feasible.length, `fleet asked ${fleet.asked.length} times`);
  });
});
