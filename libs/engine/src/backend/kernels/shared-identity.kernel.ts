/**
 * Identity for wasm that shares the input's memory instead of copying it. tfjs clones every
 * tensor a gradient needs later (`saveTensorsForBackwardMode`), and wasm's stock Identity copies
 * the bytes of each clone: about 4 % of a profiled ResNet-8 training step, plus the garbage.
 * Tensors are immutable (a variable's assign swaps its data id; no kernel writes into an input),
 * so a clone can hold a reference, as tfjs's cpu backend and wasm's own Reshape already do.
 */
import * as tf from '@tensorflow/tfjs-core';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
}

export const sharedIdentityKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const wasm = backend as unknown as RefCountingBackend;
  if (x.dtype === 'string') {
    // wasm keeps strings outside its heap; copy them as the stock kernel does
    return tf.tensor(wasm.readSync(x.dataId) as Uint8Array[], x.shape, x.dtype);
  }
  wasm.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};
