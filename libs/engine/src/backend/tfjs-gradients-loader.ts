/**
 * Registers tfjs-core's gradient functions. The CommonJS bundle of tfjs-core (what `require`
 * loads) ships without them; they exist only as ES modules with extensionless relative imports,
 * which Node can load neither with `require` nor with `import`. This loads that module tree
 * through `require` (which does resolve extensionless paths), converting each file to CommonJS
 * with swc on the way. The registrations land in tfjs's process-wide registry, shared by every
 * copy of tfjs-core. Runs once per process; takes a few hundred milliseconds.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, sep } from 'node:path';

type CompilableModule = Module & { _compile(code: string, filename: string): void };
type ExtensionLoader = (module: CompilableModule, filename: string) => void;
interface ModuleInternals {
  _extensions: Record<string, ExtensionLoader>;
}

/** A kernel whose gradient only the full registration provides; used to detect it. */
const PROBE_GRADIENT = 'Conv2D';

export function ensureTfjsGradients(): void {
  if (tf.getGradient(PROBE_GRADIENT)) return;
  const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  const esmRoot = dirname(entry) + sep;
  // Loaded lazily: only processes that train pay for the compiler.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { transformSync } = require('@swc/core') as typeof import('@swc/core');
  const extensions = (Module as unknown as ModuleInternals)._extensions;
  const plainJs = extensions['.js']!;
  extensions['.js'] = (module, filename) => {
    if (!filename.startsWith(esmRoot) || filename.endsWith('.node.js')) {
      plainJs(module, filename);
      return;
    }
    const { code } = transformSync(readFileSync(filename, 'utf8'), {
      filename,
      swcrc: false,
      configFile: false,
      sourceMaps: false,
      module: { type: 'commonjs' },
      jsc: { target: 'es2020', parser: { syntax: 'ecmascript' } },
    });
    module._compile(code, filename);
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- runtime path, through the hook above
    require(entry);
  } finally {
    extensions['.js'] = plainJs;
  }
  if (!tf.getGradient(PROBE_GRADIENT)) {
    throw new Error(
      'tfjs gradient registrations did not load (is @tensorflow/tfjs-core 4.x installed?)',
    );
  }
}
