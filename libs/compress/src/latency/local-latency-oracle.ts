/**
 * Latency on this machine: export the candidate to ONNX and time it with onnxruntime-node.
 * Device id: `local`. Single-sample batches by default (the edge case that matters).
 *
 * On a machine other work shares, one model's p50 moves with the load (a VGG-8/4 at batch 64
 * measured 6.0 ms and 7.4 ms an hour apart here, and one search accepted a round at 3.5 ms that
 * measured 5.6 ms beside its parent). With `normalizeLoad` the first model measured becomes the
 * reference: every later measurement alternates blocks of the candidate and the reference and
 * reports the candidate's p50 times (the reference's first p50 / its p50 now). Every figure is
 * then in the frame of the first measurement, the one a search reports for the unpruned model
 * and a target is set against. The frame is fixed on purpose: a running minimum (the quietest
 * load seen) moves one way only, so a single reference block that ran fast by chance would
 * rescale every later figure down; a search using it once stopped on a figure 2.7 times below
 * what its delivered model measured beside its parent.
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
  /** Clock in ms (injected for tests). */
  now?: () => number;
}

export const LOCAL_DEVICE = 'local';

function percentile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** A loaded model with its input, timed one run at a time. */
interface Timed {
  session: InferenceSession;
  input: Tensor;
  run(): Promise<void>;
}

export class LocalLatencyOracle implements LatencyOracle {
  private reference?: { timed: Timed; firstP50Ms: number };

  constructor(private readonly options: LocalOracleOptions = {}) {
    const counts: [string, number | undefined, number][] = [
      ['batch size', options.batchSize, 1],
      ['timed runs', options.timedRuns, 1],
      ['warm-up runs', options.warmupRuns, 0],
      ['threads', options.threads, 1],
      ['block runs', options.blockRuns, 1],
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
      if (!this.options.normalizeLoad || !this.reference) {
        const measured = this.result(await this.time(timed, total), device, 1);
        if (this.options.normalizeLoad) {
          this.reference = { timed, firstP50Ms: measured.p50Ms };
          keep = true;
        }
        return measured;
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
      return this.result(mine, device, this.reference.firstP50Ms / percentile(theirs, 0.5));
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
