/**
 * Runs single-kernel ONNX graphs on onnxruntime synchronously, as tfjs kernels must be.
 * onnxruntime-node's public `run` wraps a synchronous native call in a promise; this calls the
 * native session directly. Sessions are cached per graph (shape and attributes) with a bounded
 * LRU, since a training run sees only a handful of shapes (the last, smaller batch included).
 */
import * as ort from 'onnxruntime-node';

interface NativeTensor {
  data: Float32Array;
  dims: readonly number[];
}
interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(
    feeds: Record<string, ort.Tensor>,
    fetches: Record<string, null>,
    options: object,
  ): Record<string, NativeTensor>;
  dispose(): void;
}
interface NativeBinding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt(): void;
}

let native: NativeBinding | undefined;

function nativeBinding(): NativeBinding {
  // The binding module is onnxruntime-node's own entry to its addon (same version as the
  // public API above); loaded lazily so processes that never train do not pay for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  native ??= require('onnxruntime-node/dist/binding') as NativeBinding;
  return native;
}

export interface OrtKernelRunnerOptions {
  /** Threads each kernel may use (onnxruntime intra-op threads). */
  threads: number;
  /** Sessions kept alive; the least recently used is released beyond this. */
  maxSessions: number;
}

export class OrtKernelRunner {
  private readonly sessions = new Map<string, { session: NativeSession; output: string }>();

  constructor(private readonly options: OrtKernelRunnerOptions) {}

  /** Runs the graph `build()` returns (built once per `key`) on float32 inputs. */
  run(
    key: string,
    build: () => Uint8Array,
    feeds: Record<string, { data: Float32Array; dims: readonly number[] }>,
    output: string,
  ): Float32Array {
    const entry = this.session(key, build, output);
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      tensors[name] = new ort.Tensor('float32', f.data, f.dims);
    }
    const result = entry.session.run(tensors, { [entry.output]: null }, {});
    const out = result[entry.output];
    if (!out) throw new Error(`onnxruntime kernel "${key}" returned no "${output}"`);
    return out.data;
  }

  get size(): number {
    return this.sessions.size;
  }

  dispose(): void {
    for (const { session } of this.sessions.values()) session.dispose();
    this.sessions.clear();
  }

  private session(key: string, build: () => Uint8Array, output: string) {
    const cached = this.sessions.get(key);
    if (cached) {
      this.sessions.delete(key); // re-insert: Map order is the LRU order
      this.sessions.set(key, cached);
      return cached;
    }
    const { binding, initOrt } = nativeBinding();
    initOrt();
    const session = new binding.InferenceSession();
    const bytes = build();
    session.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, {
      intraOpNumThreads: this.options.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
    const entry = { session, output };
    this.sessions.set(key, entry);
    while (this.sessions.size > this.options.maxSessions) {
      const [oldestKey, oldest] = this.sessions.entries().next().value!;
      oldest.session.dispose();
      this.sessions.delete(oldestKey);
    }
    return entry;
  }
}
