/**
 * Makes a thread compute on a named tfjs backend. Data-parallel replicas call it with the main
 * thread's backend name so every replica runs the same kernels: the engine backends go through
 * `initEngineBackend` (which adds the missing wasm gradient kernels); the pure-JS cpu backend is
 * accepted for small unit tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureTfjsGradients, initEngineBackend } from '../backend';

export async function useBackend(name: string): Promise<void> {
  ensureTfjsGradients();
  if (name === 'wasm' || name === 'tensorflow') {
    await initEngineBackend({ prefer: name });
    return;
  }
  if (tf.getBackend() === name) return;
  if (!(await tf.setBackend(name))) {
    throw new Error(`tfjs backend "${name}" failed to initialise in this thread`);
  }
  await tf.ready();
}
