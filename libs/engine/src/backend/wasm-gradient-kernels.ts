/**
 * Gradient kernels the wasm backend lacks (or ships only as slow scalar loops), registered for
 * `wasm`. Each is composed of kernels wasm runs natively (XNNPACK Conv2D/DepthwiseConv2D,
 * MatMul, Slice, Transpose), so training never falls back to the pure-JS cpu backend. With them
 * an Identity that shares memory: tfjs clones every tensor a gradient saves for later.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterKernel } from './kernels/conv2d-backprop-filter.kernel';
import { conv2dBackpropInputKernel } from './kernels/conv2d-backprop-input.kernel';
import {
  depthwiseBackpropFilterKernel,
  depthwiseBackpropInputKernel,
} from './kernels/depthwise-backprop.kernel';
import { sharedIdentityKernel } from './kernels/shared-identity.kernel';

export const WASM_GRADIENT_KERNELS: ReadonlyArray<{ name: string; kernelFunc: tf.KernelFunc }> = [
  { name: tf.Conv2DBackpropFilter, kernelFunc: conv2dBackpropFilterKernel },
  { name: tf.Conv2DBackpropInput, kernelFunc: conv2dBackpropInputKernel },
  { name: tf.DepthwiseConv2dNativeBackpropFilter, kernelFunc: depthwiseBackpropFilterKernel },
  { name: tf.DepthwiseConv2dNativeBackpropInput, kernelFunc: depthwiseBackpropInputKernel },
  { name: tf.Identity, kernelFunc: sharedIdentityKernel },
];

/** Registers (or replaces) the kernels above for `backendName`. Idempotent. Returns their names. */
export function registerWasmGradientKernels(backendName = 'wasm'): string[] {
  for (const { name, kernelFunc } of WASM_GRADIENT_KERNELS) {
    const existing = tf.getKernel(name, backendName);
    if (existing?.kernelFunc === kernelFunc) continue;
    if (existing) tf.unregisterKernel(name, backendName);
    tf.registerKernel({ kernelName: name, backendName, kernelFunc });
  }
  return WASM_GRADIENT_KERNELS.map((k) => k.name);
}
