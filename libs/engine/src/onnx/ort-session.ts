/**
 * Running an exported model with onnxruntime-node: session creation (bit-packed artifacts are
 * expanded first) and batched inference from engine-layout (NHWC) inputs.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { nhwcToNchw } from './layout';
import { expandPackedWeights } from './packed-weights';

export interface OrtSessionOptions {
  /** Intra-op threads (default: ORT's choice, all cores). */
  threads?: number;
  /** Write ORT's optimized graph here (shows which fused kernels were chosen). */
  optimizedModelFilePath?: string;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export async function createOrtSession(
  bytes: Uint8Array,
  options: OrtSessionOptions = {},
): Promise<InferenceSession> {
  const runnable = expandPackedWeights(bytes);
  return InferenceSession.create(runnable, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    // Warnings (e.g. about serializing an NCHWc-optimized graph) are not errors of ours.
    logSeverityLevel: 3,
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
    ...(options.optimizedModelFilePath
      ? { optimizedModelFilePath: options.optimizedModelFilePath }
      : {}),
  });
}

/**
 * Runs `count` samples laid out as the engine holds them (NHWC images, or flat features) and
 * returns the first output, [count, numClasses] row-major.
 */
export async function runOrt(
  session: InferenceSession,
  data: Float32Array,
  count: number,
  inputShape: readonly number[],
): Promise<Float32Array> {
  const perSample = inputShape.reduce((a, b) => a * b, 1);
  if (data.length !== count * perSample) {
    throw new Error(`input holds ${data.length} values, expected ${count} x ${perSample}`);
  }
  let tensor: Tensor;
  if (inputShape.length === 3) {
    const [h, w, c] = inputShape as [number, number, number];
    tensor = new Tensor('float32', nhwcToNchw(data, count, h, w, c), [count, c, h, w]);
  } else {
    tensor = new Tensor('float32', data, [count, ...inputShape]);
  }
  const result = await session.run({ [session.inputNames[0]!]: tensor });
  const out = result[session.outputNames[0]!]!;
  const values = out.data as Float32Array;
  tensor.dispose();
  const copy = Float32Array.from(values);
  for (const t of Object.values(result)) t.dispose();
  return copy;
}
