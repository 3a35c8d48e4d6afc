import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from '../wasm-gradient-kernels';
import { ensureTfjsGradients } from '../tfjs-gradients-loader';
import { sharedIdentityKernel } from './shared-identity.kernel';

before(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  ensureTfjsGradients();
  registerWasmGradientKernels('wasm');
});

describe('wasm Identity that shares memory', () => {
  it('is the registered Identity', () => {
    assert.equal(tf.getKernel(tf.Identity, 'wasm')?.kernelFunc, sharedIdentityKernel);
  });

  it('a clone holds the same data, and each tensor outlives the other', () => {
    const x = tf.tensor1d([1, 2, 3, 4]);
    const a = tf.clone(x);
    const b = tf.clone(a);
    // the same backend data, not a copy of it (the stock kernel allocates a new block)
    assert.equal(a.dataId, x.dataId);
    assert.equal(b.dataId, x.dataId);
    x.dispose();
    assert.deepEqual([...a.dataSync()], [1, 2, 3, 4]);
    a.dispose();
    assert.deepEqual([...b.dataSync()], [1, 2, 3, 4]);
    const buffers = tf.memory().numDataBuffers;
    b.dispose();
    assert.equal(tf.memory().numDataBuffers, buffers - 1, 'freed with its last tensor');
  });

  it('variables stay independent of a clone taken before an assign', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const snapshot = tf.clone(v);
    v.assign(tf.tensor1d([5, 6]));
    assert.deepEqual([...snapshot.dataSync()], [1, 2]);
    assert.deepEqual([...v.dataSync()], [5, 6]);
    snapshot.dispose();
    v.dispose();
  });

  it('gradients through saved tensors are unchanged, and nothing leaks', () => {
    const start = tf.memory().numTensors;
    const g = tf.tidy(() => {
      const x = tf.tensor2d([0.5, -1, 2, 3], [2, 2]);
      // square and exp save their inputs/outputs through clones
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.square(t), tf.exp(t))))(x);
    });
    const x = [0.5, -1, 2, 3];
    const expected = x.map((v) => 2 * v * Math.exp(v) + v * v * Math.exp(v));
    [...g.dataSync()].forEach((v, i) =>
      assert.ok(Math.abs(v - expected[i]!) < 1e-4 * Math.abs(expected[i]!) + 1e-6),
    );
    g.dispose();
    assert.equal(tf.memory().numTensors, start);
  });

  it('strings are copied', () => {
    const s = tf.tensor1d(['a', 'bc'], 'string');
    const c = tf.clone(s);
    s.dispose();
    assert.deepEqual(c.arraySync(), ['a', 'bc']);
    c.dispose();
  });
});
