import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { GraphBuilder, buildSmallCnn } from '../../builders';
import { gatherBatch, syntheticDataset } from '../../data';
import { GraphExecutor, type Model } from '../../graph';
import { LocalGradientSource, flatLayout } from '../gradient-source';
import { train } from '../train-loop';
import { DataParallelGradientSource, shardBounds } from './data-parallel.gradient-source';

// Replicas run the pure-JS cpu backend here (tiny models); real runs use the engine backend.
const dataset = syntheticDataset({
  inputShape: [6, 6, 1],
  numClasses: 3,
  trainCount: 96,
  testCount: 48,
  seed: 5,
  noise: 0.3,
});

/** An MLP without BatchNorm: its full-batch gradient is exactly the mean of shard gradients. */
function mlp(): Model {
  const b = new GraphBuilder([6, 6, 1], 7, {
    conv: 'kaiming-normal-fan-in',
    convBias: 'zeros',
    dense: 'pytorch-default',
  });
  const flat = b.flatten('flat', b.input());
  const hidden = b.relu('h.relu', b.dense('h', flat, 16));
  const logits = b.dense('fc', hidden, 3);
  return b.build({
    name: 'mlp',
    architecture: 'mlp',
    numClasses: 3,
    output: logits,
    features: hidden,
    stages: [],
  });
}

before(async () => {
  await tf.setBackend('cpu');
});

describe('data-parallel gradients', () => {
  let executor: GraphExecutor;
  let parallel: DataParallelGradientSource;

  before(async () => {
    executor = new GraphExecutor(mlp());
    const layout = flatLayout(executor, [...executor.trainable.keys()]);
    parallel = await DataParallelGradientSource.start(executor, layout, {
      replicas: 2,
      labelSmoothing: 0.1,
    });
  });

  after(async () => {
    await parallel.close();
    executor.dispose();
  });

  it('splits a batch into near-equal contiguous shards', () => {
    assert.deepEqual(shardBounds(7, 2), [
      [0, 4],
      [4, 7],
    ]);
    assert.deepEqual(shardBounds(6, 3), [
      [0, 2],
      [2, 4],
      [4, 6],
    ]);
  });

  it('2 replicas give the full-batch gradient of one replica (odd batch, uneven shards)', async () => {
    const layout = flatLayout(executor, [...executor.trainable.keys()]);
    const local = new LocalGradientSource(executor, layout, 0.1);
    const indices = Array.from({ length: 23 }, (_, i) => (i * 5) % 96);
    const batch = gatherBatch(dataset.train, 36, indices);
    const whole = await local.compute(batch);
    const averaged = await parallel.compute(batch);
    assert.equal(averaged.count, 23);
    assert.equal(averaged.correct, whole.correct);
    assert.ok(Math.abs(averaged.loss - whole.loss) < 1e-5);
    assert.equal(averaged.grads.length, whole.grads.length);
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < whole.grads.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(averaged.grads[i]! - whole.grads[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(whole.grads[i]!));
    }
    assert.ok(maxAbs > 1e-3, 'gradients are not trivially zero');
    assert.ok(maxDiff < 1e-5, `max gradient difference ${maxDiff}`);
  });

  it('workers see weight updates made on the main thread', async () => {
    const batch = gatherBatch(dataset.train, 36, [0, 1, 2, 3]);
    const before = await parallel.compute(batch);
    const kernel = executor.trainable.get('fc/kernel')!;
    kernel.assign(tf.mul(kernel, 2));
    const afterUpdate = await parallel.compute(batch);
    assert.notEqual(afterUpdate.loss, before.loss);
  });
});

describe('data-parallel train()', () => {
  it('trains a BN model with 2 replicas to high accuracy, reproducibly', async () => {
    const run = () =>
      train({
        model: buildSmallCnn({ inputShape: [6, 6, 1], numClasses: 3, widths: [4, 8, 8], seed: 11 }),
        dataset,
        epochs: 6,
        batchSize: 16,
        optimizer: { kind: 'sgd', momentum: 0.9 },
        lr: 0.05,
        schedule: 'cosine',
        seed: 3,
        workers: 2,
      });
    const a = await run();
    assert.ok(a.testAccuracy! >= 0.9, `test accuracy ${a.testAccuracy}`);
    const b = await run();
    for (const [name, w] of a.model.weights) {
      assert.deepEqual(w.data, b.model.weights.get(name)!.data, name);
    }
  });
});
