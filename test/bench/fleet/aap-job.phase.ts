/**
 * The same small AAP job run twice on a control plane whose fleet is online: once with
 * predicted latency (the roofline predictor of the target profile, no device time) and once
 * with measured latency (every candidate benchmarked on k devices of the target group through
 * the latency service). Reports each job's wall time, rounds, and the device benchmarks it
 * cost; the predicted job's saving is the measured job's count of device benchmarks.
 *
 * The devices are simulated: their "measurements" are the same predictor scaled by a fixed
 * per-device factor, so this phase measures the cost of the measuring loop, not the
 * predictor's accuracy.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { buildSmallCnn, serializeModel } from '@edgecompress/engine';
import type { ControlPlaneApi } from './control-plane.api';

export interface AapJobFigures {
  latencySource: 'measured' | 'predicted';
  state: string;
  error: string | null;
  wallSeconds: number;
  rounds: number;
  roundsMeasured: number;
  deviceBenchmarks: number;
  latencyMs: (number | null)[];
  predictedMs: (number | null)[];
}

export interface AapJobComparison {
  profileId: string;
  k: number;
  predicted: AapJobFigures;
  measured: AapJobFigures;
  /** Device benchmarks the predicted job did not need (the measured job's count). */
  deviceBenchmarksSaved: number;
  /** Measured job wall time over predicted job wall time. */
  wallTimeRatio: number;
}

interface JobView {
  id: string;
  state: string;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  rounds: {
    latencyMs: number | null;
    latencySource: string | null;
    predictedMs: number | null;
  }[];
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

async function runJob(
  api: ControlPlaneApi,
  db: BetterSqlite3.Database,
  variantId: string,
  latencySource: 'measured' | 'predicted',
  target: { group: string; profileId: string; k: number },
  timeoutMs: number,
): Promise<AapJobFigures> {
  const benchmarks = () =>
    (
      db.prepare("SELECT COUNT(*) AS n FROM commands WHERE kind = 'benchmark'").get() as {
        n: number;
      }
    ).n;
  const before = benchmarks();
  const t0 = Date.now();
  const created = await api.call<JobView>('POST', '/api/v1/jobs', {
    variantId,
    name: `fleet bench ${latencySource}`,
    dataset: { name: 'synthetic', limitTrain: 300, limitTest: 100 },
    pipeline: ['aap'],
    options: {
      aap: { maxRounds: 4, steps: 4, batchSize: 32, validationCount: 60, calibrationBatches: 1 },
    },
    objective: {
      metric: 'params',
      target: 0.5,
      maxAccuracyDrop: 50,
      device: { group: target.group, profileId: target.profileId },
      latencySource,
      fallback: 'fail',
      k: target.k,
      waitForDevicesMs: 30_000,
    },
  });
  let job = created;
  const deadline = t0 + timeoutMs;
  while (!FINISHED.has(job.state) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    job = await api.call<JobView>('GET', `/api/v1/jobs/${created.id}`);
  }
  const wallSeconds =
    job.startedAt && job.finishedAt
      ? (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000
      : (Date.now() - t0) / 1000;
  return {
    latencySource,
    state: FINISHED.has(job.state) ? job.state : `${job.state} at the time limit`,
    error: job.error,
    wallSeconds,
    rounds: job.rounds.length,
    roundsMeasured: job.rounds.filter((r) => r.latencySource === 'measured').length,
    deviceBenchmarks: benchmarks() - before,
    latencyMs: job.rounds.map((r) => r.latencyMs),
    predictedMs: job.rounds.map((r) => r.predictedMs),
  };
}

export async function compareAapJobs(
  api: ControlPlaneApi,
  db: BetterSqlite3.Database,
  target: { group: string; profileId: string; k: number },
  timeoutMs = 600_000,
): Promise<AapJobComparison> {
  const model = buildSmallCnn({
    inputShape: [8, 8, 1],
    numClasses: 4,
    widths: [6, 8, 12],
    seed: 1,
  });
  const uploaded = await api.call<{ variants: { id: string }[] }>(
    'POST',
    '/api/v1/models?name=fleet-bench-aap&format=engine',
    undefined,
    Buffer.from(serializeModel(model)),
  );
  const variantId = uploaded.variants[0]!.id;
  const predicted = await runJob(api, db, variantId, 'predicted', target, timeoutMs);
  const measured = await runJob(api, db, variantId, 'measured', target, timeoutMs);
  return {
    profileId: target.profileId,
    k: target.k,
    predicted,
    measured,
    deviceBenchmarksSaved: measured.deviceBenchmarks - predicted.deviceBenchmarks,
    wallTimeRatio: measured.wallSeconds / predicted.wallSeconds,
  };
}
