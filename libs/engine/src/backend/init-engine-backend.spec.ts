import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { initEngineBackend, selectEngineBackend } from './init-engine-backend';

const notInstalled = (id: string): never => {
  throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
};

after(() => {
  if (tf.findBackendFactory('tensorflow') !== null) tf.removeBackend('tensorflow');
});

describe('initEngineBackend', () => {
  it('falls back to wasm with SIMD and the gradient kernels when tfjs-node is not installed', async () => {
    const info = await selectEngineBackend({ loadOptional: notInstalled, convKernels: 'wasm' });
    assert.equal(info.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(info.simd, true);
    assert.equal(info.convKernels, 'wasm');
    assert.match(info.nativeUnavailableReason ?? '', /not installed/);
    assert.deepEqual(info.addedKernels.sort(), [
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'Identity',
    ]);
    assert.ok(tf.getGradient('Conv2D'), 'tfjs gradients registered');
  });

  it('computes convolutions on onnxruntime by default, and the result matches wasm', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(
          Float32Array.from({ length: 2 * 6 * 6 * 3 }, (_, i) => Math.sin(i)),
          [2, 6, 6, 3],
        );
        const w = tf.tensor4d(
          Float32Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.cos(i)),
          [3, 3, 3, 4],
        );
        return tf.conv2d(x, w, 2, 'same').dataSync() as Float32Array;
      });
    const viaWasm = run(); // the previous test left wasm conv kernels in place
    const info = await selectEngineBackend({ loadOptional: notInstalled });
    assert.equal(info.convKernels, 'ort');
    assert.ok(info.addedKernels.includes('Conv2D'));
    const viaOrt = run();
    viaOrt.forEach((v, i) =>
      assert.ok(Math.abs(v - viaWasm[i]!) < 1e-4, `y[${i}] ${v} vs ${viaWasm[i]}`),
    );
  });

  it('rejects an unknown EDGEC_CONV_KERNELS', async () => {
    const saved = process.env.EDGEC_CONV_KERNELS;
    process.env.EDGEC_CONV_KERNELS = 'cuda';
    try {
      await assert.rejects(
        selectEngineBackend({ loadOptional: notInstalled }),
        /EDGEC_CONV_KERNELS/,
      );
    } finally {
      if (saved === undefined) delete process.env.EDGEC_CONV_KERNELS;
      else process.env.EDGEC_CONV_KERNELS = saved;
    }
  });

  it('reports a tfjs-node that fails to load with its error, and still starts on wasm', async () => {
    const info = await selectEngineBackend({
      loadOptional: () => {
        throw new Error('libtensorflow.so: cannot open shared object file');
      },
    });
    assert.equal(info.name, 'wasm');
    assert.match(info.nativeUnavailableReason ?? '', /failed to load: libtensorflow\.so/);
  });

  it('rejects with a clear error when tfjs-node is demanded but missing', async () => {
    await assert.rejects(
      selectEngineBackend({ prefer: 'tensorflow', loadOptional: notInstalled }),
      /tfjs-node was requested but is unavailable: @tensorflow\/tfjs-node is not installed/,
    );
  });

  it('rejects an unknown EDGEC_TF_BACKEND instead of guessing', async () => {
    const saved = process.env.EDGEC_TF_BACKEND;
    process.env.EDGEC_TF_BACKEND = 'gpu';
    try {
      await assert.rejects(selectEngineBackend({ loadOptional: notInstalled }), /EDGEC_TF_BACKEND/);
    } finally {
      if (saved === undefined) delete process.env.EDGEC_TF_BACKEND;
      else process.env.EDGEC_TF_BACKEND = saved;
    }
  });

  it('selects the native backend when tfjs-node registers it (stand-in: cpu registered as "tensorflow")', async () => {
    const info = await selectEngineBackend({
      loadOptional: () => tf.registerBackend('tensorflow', () => new MathBackendCPU()),
    });
    assert.equal(info.name, 'tensorflow');
    assert.equal(tf.getBackend(), 'tensorflow');
    tf.removeBackend('tensorflow');
  });

  it('is idempotent: every caller shares one initialisation', async () => {
    const first = initEngineBackend({ prefer: 'wasm' });
    const second = initEngineBackend();
    assert.equal(first, second);
    assert.equal((await first).name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });
});
