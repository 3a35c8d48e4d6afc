/**
 * Finds onnxruntime-node. From the repo it is an ordinary dependency; in the single executable
 * the embedded script can only require built-ins, so the package is loaded from the
 * node_modules directory shipped beside the binary.
 */
import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';

export type OrtModule = typeof Ort;

export function isSingleExecutable(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sea = require('node:sea') as { isSea(): boolean };
    return sea.isSea();
  } catch {
    return false;
  }
}

export function loadOrt(): OrtModule {
  const load = isSingleExecutable() ? createRequire(process.execPath) : require;
  return load('onnxruntime-node') as OrtModule;
}
