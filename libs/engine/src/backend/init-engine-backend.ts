/**
 * Picks and initialises the tensor backend every engine entry point computes on:
 * tfjs-node (native TensorFlow) when that optional dependency is installed and loads, else
 * tfjs on the wasm backend (XNNPACK, SIMD) with the missing gradient kernels registered.
 * The pure-JS cpu backend is never chosen: it is tens of times slower for training.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from './wasm-gradient-kernels';
import { loadTfjsNode, type OptionalModuleLoader } from './tfjs-node-loader';
import { ensureTfjsGradients } from './tfjs-gradients-loader';

export type EngineBackendName = 'tensorflow' | 'wasm';

export interface EngineBackendInfo {
  name: EngineBackendName;
  /** wasm only: whether the SIMD build is running. */
  simd: boolean;
  /** Kernels this module registered on top of the backend's own. */
  addedKernels: string[];
  /** Why tfjs-node was not used (absent when it was). */
  nativeUnavailableReason?: string;
}

export interface InitEngineBackendOptions {
  /** Force a backend; `auto` (default) prefers tfjs-node. Also read from EDGEC_TF_BACKEND. */
  prefer?: 'auto' | EngineBackendName;
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
  const addedKernels = registerWasmGradientKernels('wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to initialise');
  await tf.ready();
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return { name: 'wasm', simd, addedKernels, nativeUnavailableReason };
}

function readPreference(value: string | undefined): 'auto' | EngineBackendName {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'wasm' || value === 'tensorflow') return value;
  throw new Error(`EDGEC_TF_BACKEND must be auto, wasm or tensorflow; got "${value}"`);
}
