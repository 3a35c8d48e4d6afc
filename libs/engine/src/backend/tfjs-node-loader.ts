/**
 * Guarded loading of `@tensorflow/tfjs-node`, an optional dependency whose install downloads a
 * native TensorFlow library and so fails on machines without that download. Loading it
 * registers the `tensorflow` backend in tfjs-core's registry, but only if it resolved the same
 * tfjs-core instance as ours; a second copy would register into a registry we never read.
 */
import * as tf from '@tensorflow/tfjs-core';

export type OptionalModuleLoader = (id: string) => unknown;

export type NativeLoadResult = { ok: true } | { ok: false; reason: string };

const TFJS_NODE = '@tensorflow/tfjs-node';

// A guarded dynamic require: the module may be absent, and must then cost nothing.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireOptional: OptionalModuleLoader = (id) => require(id);

export function loadTfjsNode(load: OptionalModuleLoader = requireOptional): NativeLoadResult {
  if (tf.findBackendFactory('tensorflow') !== null) return { ok: true };
  try {
    load(TFJS_NODE);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return {
      ok: false,
      reason:
        code === 'MODULE_NOT_FOUND'
          ? `${TFJS_NODE} is not installed`
          : `${TFJS_NODE} failed to load: ${(err as Error).message}`,
    };
  }
  if (tf.findBackendFactory('tensorflow') === null) {
    return {
      ok: false,
      reason: `${TFJS_NODE} loaded but registered its backend with another copy of tfjs-core`,
    };
  }
  return { ok: true };
}
