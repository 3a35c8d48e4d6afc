import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { selectEngineBackend } from '../init-engine-backend';

// A training step differentiates through every op family the graph IR has. This runs one
// forward+backward pass over a network that uses all of them (strided conv, depthwise conv,
// batch norm in training mode, relu, relu6, max/avg pool, concat, residual add, global average
// pool, dense, softmax cross-entropy) on wasm and on the cpu reference backend, and compares
// every parameter gradient. A kernel missing on wasm would throw here.

function randomValues(n: number, seedStart: number): Float32Array {
  let seed = seedStart;
  return Float32Array.from({ length: n }, () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 1073741824 - 1;
  });
}

const SHAPES: Record<string, number[]> = {
  stem: [3, 3, 2, 8],
  dw: [3, 3, 8, 1],
  pw: [1, 1, 8, 8],
  gamma: [8],
  beta: [8],
  branch: [3, 3, 8, 8],
  dense: [16, 5],
  bias: [5],
};

function step(params: Record<string, tf.Tensor>, x: tf.Tensor4D, labels: tf.Tensor2D): tf.Scalar {
  const p = params as Record<string, tf.Tensor4D>;
  const stem: tf.Tensor4D = tf.relu(
    tf.conv2d(x, p.stem!, 2, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]),
  );
  const dw = tf.depthwiseConv2d(stem, p.dw!, 1, 'same');
  const { mean, variance } = tf.moments(dw, [0, 1, 2]);
  const bn = tf.batchNorm(dw, mean, variance, params.beta!, params.gamma!, 1e-3) as tf.Tensor4D;
  const pw = tf.relu6(tf.conv2d(bn, p.pw!, 1, 'valid'));
  const residual = tf.add(pw, stem) as tf.Tensor4D;
  const pooledMax = tf.maxPool(residual, 2, 2, 'valid');
  const pooledAvg = tf.avgPool(tf.conv2d(residual, p.branch!, 1, 'same'), 2, 2, 'valid');
  const joined = tf.concat([pooledMax, pooledAvg], 3);
  const features = tf.mean(joined, [1, 2]) as tf.Tensor2D;
  const logits = tf.add(tf.matMul(features, params.dense as tf.Tensor2D), params.bias!);
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
}

async function gradientsOn(backend: string) {
  await tf.setBackend(backend);
  const names = Object.keys(SHAPES);
  const results = tf.tidy(() => {
    const params = names.map((n, i) =>
      tf.tensor(
        randomValues(
          SHAPES[n]!.reduce((a, b) => a * b),
          7 + i,
        ),
        SHAPES[n],
      ),
    );
    const x = tf.tensor4d(randomValues(4 * 12 * 12 * 2, 3), [4, 12, 12, 2]);
    const labels = tf.oneHot(tf.tensor1d([0, 3, 1, 4], 'int32'), 5) as tf.Tensor2D;
    const lossOf = (...ts: tf.Tensor[]) =>
      step(Object.fromEntries(names.map((n, i) => [n, ts[i]!])), x, labels);
    const { value, grads } = tf.valueAndGrads(lossOf)(params);
    return [value, ...grads];
  });
  const [loss, ...grads] = results.map((t) => t.dataSync() as Float32Array);
  tf.dispose(results);
  return { loss: loss![0]!, grads: new Map(names.map((n, i) => [n, grads[i]!])) };
}

before(async () => {
  await selectEngineBackend({ prefer: 'wasm' });
});

describe('a full training step runs on wasm', () => {
  it('gives the same loss and parameter gradients as the cpu backend', async () => {
    const reference = await gradientsOn('cpu');
    const ours = await gradientsOn('wasm');
    assert.ok(Math.abs(ours.loss - reference.loss) < 1e-4, `${ours.loss} vs ${reference.loss}`);
    for (const [name, expected] of reference.grads) {
      const actual = ours.grads.get(name)!;
      let scale = 1e-3;
      for (const v of expected) scale = Math.max(scale, Math.abs(v));
      let worst = 0;
      for (let i = 0; i < expected.length; i++)
        worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
      assert.ok(worst <= 1e-3 * scale, `${name}: max diff ${worst} (scale ${scale})`);
      assert.ok(scale > 1e-3, `${name}: gradient is not trivially zero`);
    }
  });
});
