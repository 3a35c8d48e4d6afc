import * as tf from '@tensorflow/tfjs-core';

/**
 * Kernel inputs arrive as Tensors when an op dispatches them, but a backend may pass bare
 * TensorInfos; this gives the ops-level code a Tensor either way (tracked by the caller's tidy).
 */
export function asTensor<T extends tf.Tensor>(info: tf.TensorInfo | undefined, name = 'input'): T {
  if (info === undefined) throw new Error(`gradient kernel called without its "${name}" input`);
  if (info instanceof tf.Tensor) return info as T;
  return tf.engine().makeTensorFromTensorInfo(info) as T;
}
