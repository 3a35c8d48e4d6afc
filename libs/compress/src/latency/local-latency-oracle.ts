/**
 * Latency on this machine: export the candidate to ONNX and time it with onnxruntime-node.
 * Device id: `local`. Single-sample batches by default (the edge case that matters).
 *
 * On a machine other work shares, one model's p50 moves with the load (a VGG-8/4 at batch 64
 * measured 6.0 ms and 7.4 ms an hour apart here, and one search accepted a round at 3.5 ms that
 * measured 5.6 ms beside its parent). With `normalizeLoad` the first model measured becomes the
 * reference: every later measurement alternates blocks of the candidate and the reference and
 * reports the candidate's p50 times (the reference's typical p50 / its p50 now). "Typical" is
 * the median of every p50 the reference has had, starting with `referenceBlocks` taken back to
 * back when it is loaded, so neither one fast block nor a burst of load while the unpruned model
 * is measured sets the frame. A running minimum, as before, moves one way only: a search using
 * it stopped on a figure 2.7 times below what its delivered model measured beside its parent.
 * A fixed first figure, as after that, put the whole search in the frame of a round 0 measured
 * under a burst of load: 2.8 ms instead of 2.1, which no pruned model could then beat by much.
 */
import { type Model, createOrtSession, exportOnnx } from '@edgecompress/engine';
import { type InferenceSession, Tensor } from 'onnxruntime-node';
import type { LatencyMeasurement, LatencyOracle } from './latency-oracle';
import { UnknownDeviceError } from './latency-oracle';

export interface LocalOracleOptions {
  batchSize?: number;
  warmupRuns?: number;
  timedRuns?: number;
  /** ORT intra-op threads (default 1: stable figures on a shared machine). */
  threads?: number;
  /** Scale every figure to the load of the first measurement (see above; default false). */
  normalizeLoad?: boolean;
  /**
   * Timed runs per block when alternating with the reference (default 1: run by run, so that
   * both see the same moments of another process's work).
   */
  blockRuns?: number;
  /**
   * Back-to-back measurements of the reference when it is loaded; the median one is its figure
   * and every one counts towards its typical p50 (default 3).
   */
  referenceBlocks?: number;
  /** Clock in ms (injected for tests). */
  now?: () => number;
}

export const LOCAL_DEVICE = 'local';

function percentile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A loaded model with its input, timed one run at a time. */
interface Timed {
  session: InferenceSession;
  input: Tensor;
  run(): Promise<void>;
}

export class LocalLatencyOracle implements LatencyOracle {
  private reference?: { timed: Timed; p50s: number[] };

  constructor(private readonly options: LocalOracleOptions = {}) {
    const counts: [string, number | undefined, number][] = [
      ['batch size', options.batchSize, 1],
      ['timed runs', options.timedRuns, 1],
      ['warm-up runs', options.warmupRuns, 0],
      ['threads', options.threads, 1],
      ['block runs', options.blockRuns, 1],
      ['reference blocks', options.referenceBlocks, 1],
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
    const timed = await this.load(model);
    let keep = false;
    try {
      for (let i = 0; i < (this.options.warmupRuns ?? 5); i++) await timed.run();
      const total = this.options.timedRuns ?? 30;
      if (!this.options.normalizeLoad) return this.result(await this.time(timed, total), device, 1);
      if (!this.reference) {
        const blocks: LatencyMeasurement[] = [];
        for (let i = 0; i < (this.options.referenceBlocks ?? 3); i++) {
          blocks.push(this.result(await this.time(timed, total), device, 1));
        }
        const p50s = blocks.map((m) => m.p50Ms);
        this.reference = { timed, p50s };
        keep = true;
        const typical = median(p50s);
        return blocks.find((m) => m.p50Ms === typical) ?? { ...blocks[0]!, p50Ms: typical };
      }
      // Alternate blocks so that both models see the same load, then rescale.
      const block = this.options.blockRuns ?? 1;
      const mine: number[] = [];
      const theirs: number[] = [];
      for (let done = 0; done < total; done += block) {
        const n = Math.min(block, total - done);
        mine.push(...(await this.time(timed, n)));
        theirs.push(...(await this.time(this.reference.timed, n)));
      }
      theirs.sort((a, b) => a - b);
      const now = percentile(theirs, 0.5);
      this.reference.p50s.push(now);
      return this.result(mine, device, median(this.reference.p50s) / now);
    } finally {
      if (!keep) await this.unload(timed);
    }
  }

  /** Releases the reference model's session (normalizeLoad); the next measurement starts anew. */
  async dispose(): Promise<void> {
    const reference = this.reference;
    this.reference = undefined;
    if (reference) await this.unload(reference.timed);
  }

  private async load(model: Model): Promise<Timed> {
    const batch = this.options.batchSize ?? 1;
    const session = await createOrtSession(exportOnnx(model), {
      threads: this.options.threads ?? 1,
    });
    const shape = model.graph.inputShape;
    const dims = shape.length === 3 ? [batch, shape[2]!, shape[0]!, shape[1]!] : [batch, ...shape];
    const size = dims.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: size }, (_, i) => Math.sin(i));
    const input = new Tensor('float32', data, dims);
    const feeds = { [session.inputNames[0]!]: input };
    return {
      session,
      input,
      run: async () => {
        const out = await session.run(feeds);
        for (const t of Object.values(out)) t.dispose();
      },
    };
  }

  private async unload(timed: Timed): Promise<void> {
    timed.input.dispose();
    await timed.session.release();
  }

  private async time(timed: Timed, runs: number): Promise<number[]> {
    const now = this.options.now ?? (() => performance.now());
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = now();
      await timed.run();
      times.push(now() - t0);
    }
    return times;
  }

  private result(times: number[], device: string, scale: number): LatencyMeasurement {
    const sorted = times.map((t) => t * scale).sort((a, b) => a - b);
    return {
      p50Ms: percentile(sorted, 0.5),
      p90Ms: percentile(sorted, 0.9),
      p99Ms: percentile(sorted, 0.99),
      source: 'local',
      device,
      samples: sorted.length,
    };
  }
}
