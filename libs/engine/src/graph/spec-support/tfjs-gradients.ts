/**
 * Spec support only. tfjs-core's CommonJS bundle ships without its gradient registrations (they
 * exist only as extensionless ES modules that Node cannot load), so a spec that differentiates
 * through the executor compiles them once with esbuild. The compiled copy registers into the
 * process-wide tfjs registry, which every copy of tfjs-core shares. Production code gets its
 * gradients from the engine backend setup instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildSync } from 'esbuild';
import Module from 'node:module';

export function ensureTfjsGradientsForSpecs(): void {
  if (tf.getGradient('RealDiv')) return;
  const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  const [bundle] = buildSync({
    entryPoints: [entry],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    write: false,
    logLevel: 'silent',
  }).outputFiles;
  const compiled = new Module(entry) as Module & { _compile(code: string, file: string): void };
  compiled._compile(bundle.text, entry);
}
