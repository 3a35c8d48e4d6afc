import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureTfjsGradients } from '../tfjs-gradients-loader';
import { fusedBatchNormGradConfig, registerFastGradients } from './fused-batch-norm.gradient';

// The replacement must give exactly tfjs's batch-norm gradients: compared against tfjs's own
// gradient function on training-mode BN (statistics from the batch, so the gradient also flows
// through mean and variance) and eval-mode BN (fixed statistics). Only with a scale: tfjs cannot
// differentiate batchNorm without one (it saves the missing input), and the executor always
// passes gamma.

function values(n: number, phase: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + phase) * (1 + (i % 5)));
}

function gradients(training: boolean, withScale: boolean): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(3 * 4 * 5 * 6, 0), [3, 4, 5, 6]);
    const gamma = tf.tensor1d(values(6, 1));
    const beta = tf.tensor1d(values(6, 2));
    const fixedMean = tf.tensor1d(values(6, 3));
    const fixedVar = tf.abs(tf.tensor1d(values(6, 4)));
    const r = tf.tensor4d(values(3 * 4 * 5 * 6, 5), [3, 4, 5, 6]);
    // Differentiate only with respect to what the case uses (tf.grads rejects unused inputs).
    const inputs = [
      x,
      beta,
      ...(withScale ? [gamma] : []),
      ...(training ? [] : [fixedMean, fixedVar]),
    ];
    const loss = (...ts: tf.Tensor[]) => {
      const [xs, b] = ts as [tf.Tensor4D, tf.Tensor1D];
      const g = withScale ? ts[2] : undefined;
      const stats = training
        ? tf.moments(xs, [0, 1, 2])
        : { mean: ts[ts.length - 2]!, variance: ts[ts.length - 1]! };
      const y = tf.batchNorm(xs, stats.mean, stats.variance, b, g, 1e-3);
      return tf.sum(tf.mul(y, r));
    };
    const grads = tf.grads(loss)(inputs);
    return grads.map((g) => g.dataSync() as Float32Array);
  }) as unknown as Float32Array[];
}

function assertSame(actual: Float32Array[], expected: Float32Array[]): void {
  actual.forEach((a, k) => {
    let scale = 1e-3;
    for (const v of expected[k]!) scale = Math.max(scale, Math.abs(v));
    a.forEach((v, i) => {
      assert.ok(
        Math.abs(v - expected[k]![i]!) <= 1e-4 * scale,
        `input ${k}[${i}]: ${v} vs ${expected[k]![i]}`,
      );
    });
  });
}

before(async () => {
  await tf.setBackend('cpu');
  ensureTfjsGradients();
});

describe('FusedBatchNorm gradient without tiles', () => {
  for (const training of [true, false]) {
    for (const withScale of [true]) {
      it(`matches tfjs's gradient (${training ? 'batch' : 'fixed'} statistics, ${withScale ? 'with' : 'without'} scale)`, () => {
        const stock = tf.getGradient(tf.FusedBatchNorm)!;
        const stockMean = tf.getGradient(tf.Mean)!;
        assert.notEqual(stock.gradFunc, fusedBatchNormGradConfig.gradFunc, 'starts from tfjs');
        const expected = gradients(training, withScale);
        registerFastGradients();
        try {
          assert.equal(
            tf.getGradient(tf.FusedBatchNorm)!.gradFunc,
            fusedBatchNormGradConfig.gradFunc,
          );
          assertSame(gradients(training, withScale), expected);
        } finally {
          for (const config of [stock, stockMean]) {
            tf.unregisterGradient(config.kernelName);
            tf.registerGradient(config);
          }
        }
      });
    }
  }
});
