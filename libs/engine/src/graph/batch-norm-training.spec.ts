import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { ensureTfjsGradients } from '../backend/tfjs-gradients-loader';
import { batchNormTraining, channelSum } from './batch-norm-training';

// The closed-form step must give what tfjs's own ops give (tf.moments, then tf.batchNorm, with
// autodiff through both): the output, the batch statistics, and the gradients for x, γ and β,
// on both backends training uses, for conv (rank 4) and dense (rank 2) inputs. The loss is
// sum(y * R) with a fixed R so that every position's gradient differs.

function values(n: number, phase: number, scale = 1): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => scale * Math.sin(i * 0.37 + phase) * (1 + (i % 5)) + 0.3 * phase,
  );
}

interface Outcome {
  y: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  grads: Float32Array[];
}

function run(shape: number[], closedForm: boolean): Outcome {
  return tf.tidy(() => {
    const c = shape[shape.length - 1]!;
    const size = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(values(size, 0, 2), shape);
    const gamma = tf.tensor1d(values(c, 1));
    const beta = tf.tensor1d(values(c, 2));
    const r = tf.tensor(values(size, 5), shape);
    const forward = (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      if (closedForm) return batchNormTraining(xs, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3);
      const { mean, variance } = tf.moments(xs, [...Array(shape.length - 1).keys()]);
      return { y: tf.batchNorm(xs, mean, variance, b, g, 1e-3), mean, variance };
    };
    const out = forward(x, gamma, beta);
    const grads = tf.grads((xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(forward(xs, g, b).y, r)),
    )([x, gamma, beta]);
    return {
      y: out.y.dataSync() as Float32Array,
      mean: out.mean.dataSync() as Float32Array,
      variance: out.variance.dataSync() as Float32Array,
      grads: grads.map((g) => g.dataSync() as Float32Array),
    };
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  let scale = 1e-3;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  actual.forEach((v, i) => {
    assert.ok(Math.abs(v - expected[i]!) <= 2e-5 * scale, `${what}[${i}]: ${v} vs ${expected[i]}`);
  });
}

before(() => ensureTfjsGradients());

for (const backend of ['cpu', 'wasm']) {
  describe(`closed-form training batch norm (${backend})`, () => {
    before(async () => {
      await tf.setBackend(backend);
      await tf.ready();
    });

    for (const shape of [
      [4, 5, 6, 7],
      [16, 9],
    ]) {
      it(`matches tfjs's moments + batchNorm and their gradients for [${shape.join(', ')}]`, () => {
        const expected = run(shape, false);
        const actual = run(shape, true);
        assertClose(actual.y, expected.y, 'y');
        assertClose(actual.mean, expected.mean, 'mean');
        assertClose(actual.variance, expected.variance, 'variance');
        ['dx', 'dgamma', 'dbeta'].forEach((name, k) =>
          assertClose(actual.grads[k]!, expected.grads[k]!, name),
        );
      });
    }

    it('channel sums equal tf.sum over the leading axes', () => {
      const x = tf.tensor(values(3 * 4 * 5 * 6, 3), [3, 4, 5, 6]);
      assertClose(
        channelSum(x).dataSync() as Float32Array,
        tf.sum(x, [0, 1, 2]).dataSync() as Float32Array,
        'sum',
      );
      x.dispose();
    });

    it('leaves no tensor behind but its results', () => {
      const before = tf.memory().numTensors;
      const x = tf.tensor(values(2 * 3 * 3 * 4, 1), [2, 3, 3, 4]);
      const g = tf.ones([4]) as tf.Tensor1D;
      const b = tf.zeros([4]) as tf.Tensor1D;
      const grads = tf.grads((xs: tf.Tensor) => tf.sum(batchNormTraining(xs, g, b, 1e-3).y))([x]);
      const out = batchNormTraining(x, g, b, 1e-3);
      assert.equal(tf.memory().numTensors, before + 3 + grads.length + 3);
      tf.dispose([x, g, b, ...grads, out.y, out.mean, out.variance]);
      assert.equal(tf.memory().numTensors, before);
    });
  });
}
