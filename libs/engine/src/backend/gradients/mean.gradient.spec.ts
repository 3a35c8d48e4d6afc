import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { ensureTfjsGradients } from '../tfjs-gradients-loader';
import { registerFastGradients } from './fused-batch-norm.gradient';
import { meanGradConfig } from './mean.gradient';

// The replacement must give exactly tfjs's Mean gradient for every axis set, with and without
// keepDims, on both backends training uses. The loss is sum(mean(x) * R) with a fixed R, so the
// gradient reaching Mean is not uniform and a wrong broadcast shows.

function values(n: number, phase: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.61 + phase) * (1 + (i % 3)));
}

const shape = [3, 4, 5, 6];
const cases: { axis: number[] | number | null; keepDims: boolean }[] = [
  { axis: [0, 1, 2], keepDims: false }, // batch norm's statistics
  { axis: [1, 2], keepDims: true }, // global average pooling
  { axis: -1, keepDims: false },
  { axis: [0, 3], keepDims: true },
  { axis: null, keepDims: false }, // every axis
];

function gradient(axis: number[] | number | null, keepDims: boolean): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor(values(3 * 4 * 5 * 6, 0), shape);
    const out = tf.mean(x, axis ?? undefined, keepDims);
    const r = tf.tensor(values(out.size, 1), out.shape);
    return tf
      .grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mean(t, axis ?? undefined, keepDims), r)))(x)
      .dataSync() as Float32Array;
  });
}

before(() => ensureTfjsGradients());

for (const backend of ['cpu', 'wasm']) {
  describe(`Mean gradient without a full-size ones tensor (${backend})`, () => {
    before(async () => {
      await tf.setBackend(backend);
      await tf.ready();
    });
    for (const { axis, keepDims } of cases) {
      it(`matches tfjs's gradient for axis ${JSON.stringify(axis)}${keepDims ? ', keepDims' : ''}`, () => {
        const stock = tf.getGradient(tf.Mean)!;
        const stockBatchNorm = tf.getGradient(tf.FusedBatchNorm)!;
        assert.notEqual(stock.gradFunc, meanGradConfig.gradFunc, 'starts from tfjs');
        const expected = gradient(axis, keepDims);
        registerFastGradients();
        try {
          assert.equal(tf.getGradient(tf.Mean)!.gradFunc, meanGradConfig.gradFunc);
          const actual = gradient(axis, keepDims);
          assert.equal(actual.length, expected.length);
          actual.forEach((v, i) => {
            assert.ok(Math.abs(v - expected[i]!) <= 1e-6, `[${i}] ${v} vs ${expected[i]}`);
          });
        } finally {
          // back to tfjs's gradients, so each case compares against the stock one
          for (const config of [stock, stockBatchNorm]) {
            tf.unregisterGradient(config.kernelName);
            tf.registerGradient(config);
          }
        }
      });
    }
  });
}
