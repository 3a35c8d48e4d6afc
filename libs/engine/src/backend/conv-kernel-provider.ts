/**
 * Chooses who computes the convolution kernels on the wasm backend: `ort` (onnxruntime's native
 * CPU kernels, several times faster than 128-bit wasm SIMD on x86) or `wasm` (XNNPACK forward
 * plus the gradient kernels composed in ./kernels). Everything else stays on wasm either way.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WASM_GRADIENT_KERNELS, registerWasmGradientKernels } from './wasm-gradient-kernels';
import { OrtKernelRunner } from './ort/ort-kernel-runner';
import { ortConvKernels } from './ort/ort-conv-kernels';

export type ConvKernelProvider = 'ort' | 'wasm';

const BACKEND = 'wasm';
let stockConv2d: tf.KernelConfig | undefined;
let runner: OrtKernelRunner | undefined;
let runnerThreads = 0;

function replaceKernel(name: string, kernelFunc: tf.KernelFunc): void {
  if (tf.getKernel(name, BACKEND)?.kernelFunc === kernelFunc) return;
  if (tf.getKernel(name, BACKEND)) tf.unregisterKernel(name, BACKEND);
  tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
}

/** Registers the chosen provider's Conv2D / Conv2DBackpropInput / Conv2DBackpropFilter. */
export function useConvKernels(provider: ConvKernelProvider, threads = 1): string[] {
  // The stock forward kernel is kept so `wasm` can be restored after `ort` replaced it.
  stockConv2d ??= tf.getKernel(tf.Conv2D, BACKEND);
  if (provider === 'wasm') {
    if (stockConv2d) replaceKernel(tf.Conv2D, stockConv2d.kernelFunc);
    return registerWasmGradientKernels(BACKEND);
  }
  registerWasmGradientKernels(BACKEND); // depthwise gradients stay composed on wasm
  if (!runner || runnerThreads !== threads) {
    runner?.dispose();
    runner = new OrtKernelRunner({ threads, maxSessions: 64 });
    runnerThreads = threads;
  }
  const kernels = ortConvKernels(runner);
  for (const { name, kernelFunc } of kernels) replaceKernel(name, kernelFunc);
  return [...new Set([...WASM_GRADIENT_KERNELS.map((k) => k.name), ...kernels.map((k) => k.name)])];
}

/** Whether onnxruntime's native addon loads here (it ships prebuilt for common platforms). */
export function ortKernelsAvailable(): { ok: true } | { ok: false; reason: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('onnxruntime-node/dist/binding');
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `onnxruntime-node does not load: ${(err as Error).message}` };
  }
}
