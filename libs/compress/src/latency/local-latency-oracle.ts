/**
 * Latency on this machine: export the candidate to ONNX and time it with onnxruntime-node.
 * Device id: `local`. Single-sample batches by default (the edge case that matters).
 */
import { type Model, createOrtSession, exportOnnx } from '@edgecompress/engine';
import { Tensor } from 'onnxruntime-node';
import type { LatencyMeasurement, LatencyOracle } from './latency-oracle';
import { UnknownDeviceError } from './latency-oracle';

export interface LocalOracleOptions {
  batchSize?: number;
  warmupRuns?: number;
  timedRuns?: number;
  /** ORT intra-op threads (default 1: stable figures on a shared machine). */
  threads?: number;
  /** Clock in ms (injected for tests). */
  now?: () => number;
}

export const LOCAL_DEVICE = 'local';

function percentile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export class LocalLatencyOracle implements LatencyOracle {
  constructor(private readonly options: LocalOracleOptions = {}) {
    const counts: [string, number | undefined, number][] = [
      ['batch size', options.batchSize, 1],
      ['timed runs', options.timedRuns, 1],
      ['warm-up runs', options.warmupRuns, 0],
      ['threads', options.threads, 1],
    ];
    for (const [what, value, least] of counts) {
      if (value !== undefined && !(Number.isInteger(value) && value >= least))
        throw new RangeError(`local latency: ${what} must be an integer >= ${least}, got ${value}`);
    }
  }

  async devices(): Promise<readonly string[]> {
    return [LOCAL_DEVICE];
  }

  async measure(model: Model, device: string): Promise<LatencyMeasurement> {
    if (device !== LOCAL_DEVICE) throw new UnknownDeviceError(device, [LOCAL_DEVICE]);
    const now = this.options.now ?? (() => performance.now());
    const batch = this.options.batchSize ?? 1;
    const session = await createOrtSession(exportOnnx(model), {
      threads: this.options.threads ?? 1,
    });
    try {
      const shape = model.graph.inputShape;
      const dims =
        shape.length === 3 ? [batch, shape[2]!, shape[0]!, shape[1]!] : [batch, ...shape];
      const size = dims.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: size }, (_, i) => Math.sin(i));
      const input = new Tensor('float32', data, dims);
      const feeds = { [session.inputNames[0]!]: input };
      const run = async (): Promise<void> => {
        const out = await session.run(feeds);
        for (const t of Object.values(out)) t.dispose();
      };
      for (let i = 0; i < (this.options.warmupRuns ?? 5); i++) await run();
      const times: number[] = [];
      for (let i = 0; i < (this.options.timedRuns ?? 30); i++) {
        const t0 = now();
        await run();
        times.push(now() - t0);
      }
      input.dispose();
      times.sort((a, b) => a - b);
      return {
        p50Ms: percentile(times, 0.5),
        p90Ms: percentile(times, 0.9),
        p99Ms: percentile(times, 0.99),
        source: 'local',
        device,
        samples: times.length,
      };
    } finally {
      await session.release();
    }
  }
}
