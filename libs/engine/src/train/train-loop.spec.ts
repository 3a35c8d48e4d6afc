import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildSmallCnn } from '../builders';
import { loadMnist, syntheticDataset } from '../data';
import type { Model } from '../graph';
import { evaluate, loadCheckpoint, train, type TrainConfig, type TrainProgress } from './index';

// Tiny models on the pure-JS cpu backend: bit-exact, dependency-free and fast at this size.
const dataset = syntheticDataset({
  inputShape: [6, 6, 1],
  numClasses: 3,
  trainCount: 96,
  testCount: 48,
  seed: 5,
  noise: 0.3,
});
const model = (): Model =>
  buildSmallCnn({ inputShape: [6, 6, 1], numClasses: 3, widths: [4, 8, 8], seed: 11 });
const config: TrainConfig = {
  epochs: 3,
  batchSize: 16,
  optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true },
  lr: 0.05,
  schedule: 'cosine',
  warmupEpochs: 1,
  weightDecay: 5e-4,
  labelSmoothing: 0.1,
  padCrop: 1,
  seed: 3,
};

function weightsOf(m: Model): Map<string, number[]> {
  return new Map([...m.weights].map(([k, w]) => [k, Array.from(w.data)]));
}

function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'edgec-train-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

before(async () => {
  await tf.setBackend('cpu');
});

describe('train()', () => {
  it('learns the synthetic task and reports progress', async () => {
    const events: TrainProgress[] = [];
    const result = await train({
      ...config,
      epochs: 6,
      model: model(),
      dataset,
      onProgress: (e) => events.push(e),
    });
    assert.equal(result.completed, true);
    assert.equal(result.globalStep, 36);
    assert.ok(result.testAccuracy! >= 0.9, `test accuracy ${result.testAccuracy}`);
    const steps = events.filter((e) => e.kind === 'step');
    const epochs = events.filter((e) => e.kind === 'epoch');
    assert.equal(steps.length, 36);
    assert.equal(epochs.length, 6);
    assert.ok(
      steps.every((e) => e.imagesPerSecond > 0 && e.etaSeconds >= 0 && Number.isFinite(e.loss)),
    );
    assert.equal(steps.at(-1)!.etaSeconds, 0);
    // Warm-up: the first step's rate is lr / warmupSteps.
    assert.ok(Math.abs(steps[0]!.lr - 0.05 / 6) < 1e-12);
    assert.ok(epochs[5]!.loss < epochs[0]!.loss, 'loss falls across epochs');
    // The returned model evaluates to the reported accuracy.
    assert.equal(evaluate(result.model, dataset.test).accuracy, result.testAccuracy);
  });

  it('is reproducible: same seed, same weights bit for bit; another seed differs', async () => {
    const a = await train({
      ...config,
      epochs: 1,
      model: model(),
      dataset,
      evaluateEachEpoch: false,
    });
    const b = await train({
      ...config,
      epochs: 1,
      model: model(),
      dataset,
      evaluateEachEpoch: false,
    });
    const c = await train({
      ...config,
      epochs: 1,
      seed: 4,
      model: model(),
      dataset,
      evaluateEachEpoch: false,
    });
    assert.deepEqual(weightsOf(a.model), weightsOf(b.model));
    assert.notDeepEqual(weightsOf(a.model), weightsOf(c.model));
  });

  it('resumes mid-epoch from a checkpoint to exactly the uninterrupted result (Adam)', async () => {
    await withTempDir(async (dir) => {
      const cfg = {
        ...config,
        optimizer: { kind: 'adam' as const, decoupledWeightDecay: true },
        lr: 0.01,
      };
      const whole = await train({ ...cfg, model: model(), dataset, evaluateEachEpoch: false });
      const path = join(dir, 'run.ckpt');
      const first = await train({
        ...cfg,
        model: model(),
        dataset,
        evaluateEachEpoch: false,
        checkpointPath: path,
        stopAtStep: 8,
      });
      assert.equal(first.completed, false);
      assert.equal(loadCheckpoint(path).position.globalStep, 8);
      const resumed = await train({
        ...cfg,
        model: model(),
        dataset,
        evaluateEachEpoch: false,
        checkpointPath: path,
        resume: true,
      });
      assert.equal(resumed.completed, true);
      assert.equal(resumed.globalStep, 18);
      assert.deepEqual(weightsOf(resumed.model), weightsOf(whole.model));
    });
  });

  it('refuses a checkpoint made with other settings, and a corrupt one', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'run.ckpt');
      await train({
        ...config,
        epochs: 1,
        model: model(),
        dataset,
        checkpointPath: path,
        evaluateEachEpoch: false,
      });
      await assert.rejects(
        train({
          ...config,
          epochs: 1,
          lr: 0.1,
          model: model(),
          dataset,
          checkpointPath: path,
          resume: true,
        }),
        /was made with different settings/,
      );
      const bytes = readFileSync(path);
      bytes[bytes.length - 3] ^= 0x55;
      writeFileSync(path, bytes);
      await assert.rejects(
        train({
          ...config,
          epochs: 1,
          model: model(),
          dataset,
          checkpointPath: path,
          resume: true,
        }),
        /does not match its checksum/,
      );
    });
  });

  it('rejects flips on digits, unlabeled data and bad settings with clear errors', async () => {
    const mnist = loadMnist({ limit: { train: 64, test: 16 } });
    const digits = (): Model =>
      buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10, widths: [2, 2, 2] });
    await assert.rejects(
      train({ ...config, flip: true, model: digits(), dataset: mnist }),
      /flips change the class of mnist/,
    );
    const unlabeled = { ...dataset, train: { ...dataset.train, labels: null } };
    await assert.rejects(train({ ...config, model: model(), dataset: unlabeled }), /needs labels/);
    await assert.rejects(
      train({ ...config, batchSize: 0, model: model(), dataset }),
      /batchSize must be a positive integer/,
    );
  });
});
