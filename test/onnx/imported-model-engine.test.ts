import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  GraphExecutor,
  ensureTfjsGradients,
  importOnnx,
  validateModel,
} from '@edgecompress/engine';
import { TORCH_FIXTURES, loadTorchFixture, relativeL2 } from './onnx-fixtures';

describe('imported models are ordinary engine models', () => {
  before(async () => {
    ensureTfjsGradients();
    await tf.setBackend('cpu');
  });

  for (const name of TORCH_FIXTURES) {
    it(`${name}: the engine's own eval output matches PyTorch within 1e-4`, () => {
      const fx = loadTorchFixture(name);
      const { model } = importOnnx(fx.bytes);
      validateModel(model);
      const executor = new GraphExecutor(model);
      const logits = tf.tidy(() =>
        executor
          .forward(
            tf.tensor4d(fx.input, [fx.count, ...model.graph.inputShape] as [
              number,
              number,
              number,
              number,
            ]),
            {
              training: false,
            },
          )
          .logits.dataSync(),
      ) as Float32Array;
      executor.dispose();
      assert.ok(
        relativeL2(logits, fx.expected) < 1e-4,
        `relative L2 ${relativeL2(logits, fx.expected)}`,
      );
    });
  }

  it('torch-resnet trains: one gradient step moves every kernel and proposes new BN statistics', () => {
    const fx = loadTorchFixture('torch-resnet');
    const { model } = importOnnx(fx.bytes);
    const executor = new GraphExecutor(model);
    const x = tf.tensor4d(fx.input, [fx.count, 16, 16, 3]);
    const labels = tf.oneHot(tf.tensor1d([1, 7], 'int32'), 10);
    const vars = [...executor.trainable.values()];
    let updates = new Map<string, tf.Tensor>();
    const { grads } = tf.variableGrads(() => {
      const r = executor.forward(x, { training: true });
      updates = r.stateUpdates;
      return tf.losses.softmaxCrossEntropy(labels, r.logits) as tf.Scalar;
    }, vars);
    const kernels = [...executor.trainable.keys()].filter((k) => k.endsWith('/kernel'));
    assert.equal(kernels.length, 7); // 6 convs and the linear layer
    for (const k of kernels) {
      assert.ok(grads[executor.trainable.get(k)!.name], `gradient for ${k}`);
      assert.ok(
        tf.max(tf.abs(grads[executor.trainable.get(k)!.name]!)).dataSync()[0]! > 0,
        `non-zero gradient for ${k}`,
      );
    }
    assert.equal(updates.size, 12); // mean and variance of 6 BN layers
    executor.dispose();
  });
});
