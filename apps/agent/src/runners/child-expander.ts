/**
 * Expansion of bit-packed low-bit weights in a runner child. Unpacking millions of 2/3-bit codes
 * is hot JavaScript: in the agent process it would run on the MQTT event loop and, under the
 * agent's lean V8 flags (no optimizing compiler), several times slower. The child runs with
 * Node's default flags and exits afterwards, taking the memory it used with it.
 */
import type { ExpandPackedFile } from '../store/packed-onnx';
import type { OrtRunner, RunnerLimits } from './ort-runner';
import type { ExpandResult } from './runner-protocol';

export function childExpander(runner: OrtRunner, limits: RunnerLimits): ExpandPackedFile {
  return async (packedPath, outPath, maxBytes) => {
    const result = await runner.run<ExpandResult>(
      { kind: 'expand', packedPath, outPath, maxBytes },
      limits,
    );
    return result.outcome;
  };
}
