import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, countModelCost, serializeModel } from '@edgecompress/engine';
import { checkEngineFile } from './model-file.validator';

describe('checkEngineFile', () => {
  const model = buildModel('small-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const file = serializeModel(model);

  it('accepts a model file the engine wrote and counts its parameters and FLOPs', () => {
    const check = checkEngineFile(file);
    const cost = countModelCost(model.graph);
    assert.equal(check.importable, true);
    assert.equal(check.params, cost.params);
    assert.equal(check.flops, cost.flops);
  });

  it('refuses a truncated file, a flipped byte and JSON with a clear message', () => {
    const flipped = Buffer.from(file);
    flipped[flipped.length - 100] ^= 0xff;
    for (const bad of [
      file.subarray(0, file.length - 10),
      flipped,
      Buffer.from('{"graph":{"nodes":[1]}}'),
    ]) {
      assert.throws(() => checkEngineFile(bad), /not a usable engine model file/);
    }
  });
});
