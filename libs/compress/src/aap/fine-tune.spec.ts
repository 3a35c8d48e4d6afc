import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initEngineBackend, syntheticDataset } from '@edgecompress/engine';
import { tinyVgg } from '../pruning/test-models.fixture';
import { fineTune, validateBudget } from './fine-tune';

describe('fineTune budgets', () => {
  const data = syntheticDataset({
    inputShape: [8, 8, 1],
    numClasses: 3,
    trainCount: 40,
    testCount: 10,
  });

  it('a step budget runs exactly that many steps, even past the end of the split', async () => {
    await initEngineBackend();
    for (const steps of [2, 7]) {
      const seen: number[] = [];
      await fineTune(tinyVgg(), data, data.train, { steps, batchSize: 16, lr: 0.01 }, 1, (p) => {
        if (p.kind === 'step') seen.push(p.globalStep);
      });
      assert.equal(seen.length, steps, `steps ${steps}`);
    }
  });

  it('a zero budget returns the model untouched; bad budgets are refused', async () => {
    const m = tinyVgg();
    assert.equal(await fineTune(m, data, data.train, { steps: 0, batchSize: 8, lr: 0.1 }, 0), m);
    assert.throws(() => validateBudget({ batchSize: 8, lr: 0.1 }), /epochs or steps/);
    assert.throws(() => validateBudget({ epochs: 1, batchSize: 0, lr: 0.1 }), /batchSize/);
    assert.throws(() => validateBudget({ epochs: 1, batchSize: 8, lr: 0 }), /lr must be > 0/);
    assert.throws(
      () => validateBudget({ epochs: 1, batchSize: 8, lr: 0.1, workers: 0 }),
      /workers must be an integer >= 1, got 0/,
    );
  });

  it('workers > 1 fine-tunes data-parallel in worker threads, reproducibly', async () => {
    await initEngineBackend();
    const budget = { steps: 3, batchSize: 16, lr: 0.05, seed: 2 };
    const run = (workers: number) =>
      fineTune(tinyVgg(), data, data.train, { ...budget, workers }, 0);
    const [one, twoA, twoB] = [await run(1), await run(2), await run(2)];
    let differsFromOne = false;
    for (const [name, w] of twoA.weights) {
      assert.deepEqual(w.data, twoB.weights.get(name)!.data, `${name}: same with the same workers`);
      const single = one.weights.get(name)!.data;
      differsFromOne ||= w.data.some((v, i) => v !== single[i]);
    }
    // each replica normalises its own half-batch, so the result is not bit-equal to one thread
    assert.ok(differsFromOne, 'two workers trained the model, not this thread alone');
  });
});
