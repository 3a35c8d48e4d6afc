/**
 * Picks and initialises the tensor backend every engine entry point computes on:
 * tfjs-node (native TensorFlow) when that optional dependency is installed and loads, else
 * tfjs on the wasm backend (XNNPACK, SIMD) with the missing gradient kernels registered.
 * The pure-JS cpu backend is never chosen: it is tens of times slower for training.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import {
  ortKernelsAvailable,
  useConvKernels,
  type ConvKernelProvider,
} from './conv-kernel-provider';
import { loadTfjsNode, type OptionalModuleLoader } from './tfjs-node-loader';
import { ensureTfjsGradients } from './tfjs-gradients-loader';
import { registerFastGradients } from './gradients/fused-batch-norm.gradient';

export type EngineBackendName = 'tensorflow' | 'wasm';

export interface EngineBackendInfo {
  name: EngineBackendName;
  /** wasm only: whether the SIMD build is running. */
  simd: boolean;
  /** Kernels this module registered on top of the backend's own. */
  addedKernels: string[];
  /** Why tfjs-node was not used (absent when it was). */
  nativeUnavailableReason?: string;
  /** wasm only: who computes Conv2D and its gradients. */
  convKernels?: ConvKernelProvider;
  /** Why onnxruntime conv kernels were not used, when they were wanted but did not load. */
  convKernelsNote?: string;
}

export interface InitEngineBackendOptions {
  /** Force a backend; `auto` (default) prefers tfjs-node. Also read from EDGEC_TF_BACKEND. */
  prefer?: 'auto' | EngineBackendName;
  /**
   * wasm only: `ort` (default when onnxruntime loads) runs Conv2D and its gradients on
   * onnxruntime's native kernels; `wasm` keeps them on wasm. Also read from EDGEC_CONV_KERNELS.
   */
  convKernels?: ConvKernelProvider;
  /** Threads each onnxruntime conv kernel may use (default 1: one per data-parallel replica). */
  kernelThreads?: number;
  /** Injected for tests; defaults to a guarded `require`. */
  loadOptional?: OptionalModuleLoader;
}

let pending: Promise<EngineBackendInfo> | undefined;

/** Idempotent: the first call selects and initialises the backend, later calls share the result. */
export function initEngineBackend(
  options: InitEngineBackendOptions = {},
): Promise<EngineBackendInfo> {
  pending ??= selectEngineBackend(options).catch((err: unknown) => {
    pending = undefined; // a failed start may be retried (e.g. after fixing the environment)
    throw err;
  });
  return pending;
}

/** Not cached: selects and initialises a backend now. Prefer `initEngineBackend`. */
export async function selectEngineBackend(
  options: InitEngineBackendOptions = {},
): Promise<EngineBackendInfo> {
  ensureTfjsGradients();
  registerFastGradients();
  const prefer = options.prefer ?? readPreference(process.env.EDGEC_TF_BACKEND);
  let nativeUnavailableReason: string | undefined = 'not requested';
  if (prefer !== 'wasm') {
    const native = loadTfjsNode(options.loadOptional);
    if (native.ok && (await tf.setBackend('tensorflow'))) {
      await tf.ready();
      return { name: 'tensorflow', simd: false, addedKernels: [] };
    }
    nativeUnavailableReason = native.ok ? 'tensorflow backend failed to initialise' : native.reason;
    if (prefer === 'tensorflow') {
      throw new Error(`tfjs-node was requested but is unavailable: ${nativeUnavailableReason}`);
    }
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to initialise');
  await tf.ready();
  const wanted = options.convKernels ?? readConvKernels(process.env.EDGEC_CONV_KERNELS);
  const ort = wanted === 'wasm' ? undefined : ortKernelsAvailable();
  if (wanted === 'ort' && ort && !ort.ok) throw new Error(ort.reason);
  const convKernels: ConvKernelProvider = ort?.ok ? 'ort' : 'wasm';
  const addedKernels = useConvKernels(convKernels, options.kernelThreads ?? 1);
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return {
    name: 'wasm',
    simd,
    addedKernels,
    nativeUnavailableReason,
    convKernels,
    ...(ort && !ort.ok ? { convKernelsNote: ort.reason } : {}),
  };
}

function readConvKernels(value: string | undefined): ConvKernelProvider | undefined {
  if (value === undefined || value === '' || value === 'auto') return undefined;
  if (value === 'ort' || value === 'wasm') return value;
  throw new Error(`EDGEC_CONV_KERNELS must be auto, ort or wasm; got "${value}"`);
}

function readPreference(value: string | undefined): 'auto' | EngineBackendName {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'wasm' || value === 'tensorflow') return value;
  throw new Error(`EDGEC_TF_BACKEND must be auto, wasm or tensorflow; got "${value}"`);
}
