/**
 * The one-command demo, step by step: baseline -> fleet (control plane + three agents) ->
 * baseline rolled out canary-first -> compression job (AAP then SQAKD) whose latency objective
 * is measured by the agents of one group -> the winner rolled out canary-first to every agent
 * -> trajectory, Pareto set and latency report. Every child process is stopped on the way out;
 * the data dir stays for inspection.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { watchJob } from '../commands/jobs.command';
import { watchRollout } from '../commands/rollouts.command';
import { ApiError, type ApiClient } from '../ui/api-client';
import type { JobView, ParetoAnswer, RolloutView } from '../ui/api-types';
import { renderRounds } from '../ui/job-views';
import { renderLatencyReport, renderPareto } from '../ui/report-views';
import { renderTargets } from '../ui/rollout-views';
import { formatMs } from '../ui/table';
import { type Baseline, trainOrLoadBaseline } from './demo-baseline';
import { startFleet, type DemoDevice, type DemoFleet } from './demo-fleet';

export interface DemoOptions {
  dataDir: string;
  /** Baseline training budget. */
  trainLimit: number;
  testLimit: number;
  epochs: number;
  /** Job budget. */
  jobTrainLimit: number;
  jobTestLimit: number;
  aapRounds: number;
  aapSteps: number;
  sqakdSteps: number;
  sqakdBits: string;
  /** Latency target as a share of the baseline's fastest measured p50 in the job's group. */
  targetShare: number;
  maxDrop: number;
  soakMs: number;
  /** Skip the compression job (fleet, baseline and its rollout only). */
  skipJob: boolean;
  onlineTimeoutMs: number;
  pollMs: number;
}

export const DEMO_DEVICES: DemoDevice[] = [
  { id: 'demo-edge-1', group: 'edge', pinToOneCore: false },
  { id: 'demo-edge-2', group: 'edge', pinToOneCore: false },
  { id: 'demo-slow-1', group: 'slow', pinToOneCore: true },
];
const JOB_GROUP = 'edge';

export interface DemoResult {
  modelId: string;
  baselineVariantId: string;
  baselineRollout: RolloutView;
  job: JobView | null;
  winnerRollout: RolloutView | null;
  latencyReport: unknown;
}

const out = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const step = (title: string) =>
    out(`\n== ${title} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  step('1/6 baseline: small CNN on MNIST');
  const baseline = await trainOrLoadBaseline({
    dir: join(o.dataDir, 'demo-models'),
    limitTrain: o.trainLimit,
    limitTest: o.testLimit,
    epochs: o.epochs,
    log: out,
  });

  step('2/6 fleet: control plane + 3 agents');
  const fleet = await startFleet({
    dataDir: o.dataDir,
    devices: DEMO_DEVICES,
    log: out,
    onlineTimeoutMs: o.onlineTimeoutMs,
  });
  let interrupted = false;
  const watching = new AbortController();
  const onSignal = () => {
    interrupted = true;
    log('interrupted: stopping the agents and the control plane');
    // The watch's event stream is a connection to our own server: close it first, or the
    // server's close would wait for it. The timer is a last resort if something still hangs.
    watching.abort();
    setTimeout(() => process.exit(130), 20_000).unref();
    void fleet.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await demoSteps(o, fleet, baseline, step, log, watching.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted) {
      await fleet.stop();
      out(
        `\nstopped the agents and the control plane after ${((Date.now() - started) / 1000).toFixed(0)} s; ` +
          `data left in ${o.dataDir} (inspect with \`edgec server --data-dir ${o.dataDir}\`)`,
      );
    }
  }
}

async function demoSteps(
  o: DemoOptions,
  fleet: DemoFleet,
  baseline: Baseline,
  step: (title: string) => void,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<DemoResult> {
  const client = fleet.client;
  const onnx = baseline.onnx;
  const model = await client.upload<{ id: string; variants: { id: string }[] }>(
    `/api/v1/models?${new URLSearchParams({ name: 'demo-small-cnn-mnist', format: 'onnx' })}`,
    onnx,
  );
  const baselineVariantId = model.variants[0]!.id;
  out(`model ${model.id}, baseline variant ${baselineVariantId} (${onnx.length} bytes)`);

  step('3/6 roll the baseline out, canary first');
  const baselineRollout = await rollOut(client, baselineVariantId, o, 'baseline rollout', signal);
  out(renderTargets(baselineRollout));
  if (baselineRollout.state !== 'succeeded')
    throw new Error(`baseline rollout ${baselineRollout.state}: ${baselineRollout.reason ?? ''}`);

  let job: JobView | null = null;
  let winnerRollout: RolloutView | null = null;
  let jobModelId = model.id;
  if (!o.skipJob) {
    // The job measures on one device of the group (k = 1), and a fresh measurement there can
    // come out at the group's fastest figure: aim below that one, not the median, or the
    // unpruned model may already "meet" the target and the job has nothing to do.
    const groupFastestP50 = fastest(
      baselineRollout.targets
        .filter((t) => DEMO_DEVICES.find((d) => d.id === t.deviceId)?.group === JOB_GROUP)
        .map((t) => t.p50Ms)
        .filter((v): v is number => v !== null),
    );
    const target =
      groupFastestP50 !== null ? Number((groupFastestP50 * o.targetShare).toFixed(4)) : undefined;
    step(
      `4/6 compression job: AAP then SQAKD, p50 <= ${target !== undefined ? `${formatMs(target)} ms` : '(no baseline p50)'} measured on group "${JOB_GROUP}"`,
    );
    // AAP prunes the engine-format model (batch norm kept apart); the job stores every kept
    // candidate also as ONNX, so the winner can be rolled out.
    const engineModel = await client.upload<{ id: string; variants: { id: string }[] }>(
      `/api/v1/models?${new URLSearchParams({ name: 'demo-small-cnn-mnist-engine', format: 'engine' })}`,
      readFileSync(baseline.ecmPath),
    );
    jobModelId = engineModel.id;
    const created = await client.post<JobView>('/api/v1/jobs', {
      name: 'demo: smallest accurate small CNN for the edge group',
      variantId: engineModel.variants[0]!.id,
      dataset: { name: 'mnist', limitTrain: o.jobTrainLimit, limitTest: o.jobTestLimit },
      pipeline: ['aap', 'sqakd'],
      options: {
        aap: { maxRounds: o.aapRounds, steps: o.aapSteps, batchSize: 32 },
        sqakd: { bits: o.sqakdBits, epochs: 1, stepsPerEpoch: o.sqakdSteps, batchSize: 32 },
      },
      objective: {
        metric: 'latency',
        ...(target !== undefined ? { target } : {}),
        maxAccuracyDrop: o.maxDrop,
        device: { group: JOB_GROUP },
        latencySource: 'measured',
        fallback: 'predicted',
        k: 1,
        waitForDevicesMs: 30_000,
      },
    });
    out(`job ${created.id} queued (from ${engineModel.id}, the same baseline in engine format)`);
    job = await watchJob(client, created.id, { pollMs: o.pollMs, label: 'job', signal });
    out(`job ${job.id}: ${job.state}${job.error ? ` - ${job.error}` : ''}`);
    step('5/6 trajectory');
    out(renderRounds(job.rounds));
    for (const r of job.rounds.filter((r) => r.rejected))
      out(`${r.method} round ${r.round} not kept: ${r.rejected}`);
    const final = job.rounds.find((r) => r.variantId === job!.resultVariantId);
    if (final && target !== undefined && final.latencyMs !== null)
      out(
        `winner p50 ${formatMs(final.latencyMs)} ms (${final.latencySource}) against the target ${formatMs(target)} ms: ` +
          (final.latencyMs <= target ? 'target met' : 'target not met'),
      );
    if (job.objectiveMet !== undefined && job.objectiveMet !== null)
      out(
        `objective ${job.objectiveMet ? 'met' : 'not met (the best feasible candidate is the result)'}` +
          (job.objectiveNote ? `: ${job.objectiveNote}` : ''),
      );
    const winner = job.deployableVariantId ?? null;
    if (job.state === 'succeeded' && winner && job.resultVariantId !== job.variantId) {
      out(
        `winner: variant ${job.resultVariantId} (ONNX ${winner}); rolling it out canary-first to every agent`,
      );
      winnerRollout = await rollOut(client, winner, o, 'winner rollout', signal);
      out(renderTargets(winnerRollout));
      out(
        `winner rollout: ${winnerRollout.state}${winnerRollout.reason ? ` (${winnerRollout.reason})` : ''}`,
      );
    } else if (job.state === 'succeeded') {
      log('the job kept no pruned or quantized model: the baseline stays deployed');
    } else log('no winner to roll out');
  }

  step('6/6 results');
  try {
    const pareto = await client.get<ParetoAnswer>(
      `/api/v1/variants/pareto?${new URLSearchParams({ modelId: jobModelId })}`,
    );
    out('Pareto set (accuracy x p50 x size; * = on the front):');
    out(renderPareto(pareto));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    log(`Pareto set not available: ${err.message}`);
  }
  const reportVariant =
    winnerRollout?.state === 'succeeded' ? winnerRollout.variantId : baselineVariantId;
  let latencyReport: unknown = null;
  try {
    latencyReport = await client.get<unknown>(
      `/api/v1/reports/latency?${new URLSearchParams({ variant: reportVariant, format: 'json' })}`,
    );
    out(`latency report for variant ${reportVariant} (per device and per profile):`);
    out(renderLatencyReport(latencyReport));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    log(`latency report not available: ${err.message}`);
  }
  return {
    modelId: model.id,
    baselineVariantId,
    baselineRollout,
    job,
    winnerRollout,
    latencyReport,
  };
}

async function rollOut(
  client: ApiClient,
  variantId: string,
  o: DemoOptions,
  label: string,
  signal: AbortSignal,
): Promise<RolloutView> {
  const created = await client.post<RolloutView>('/api/v1/rollouts', {
    variantId,
    selector: { tags: ['demo'] },
    strategy: { canary: { devices: 1 }, waves: [100], soakMs: o.soakMs },
    // Lenient: the three agents share two busy cores, so latency swings are noise here.
    abortRules: { maxFailureRate: 0.5, minDevices: 1, maxLatencyRegression: 5 },
    deviceDeadlineMs: 120_000,
  });
  return watchRollout(client, created.id, { pollMs: o.pollMs, label, signal });
}

function fastest(values: number[]): number | null {
  return values.length === 0 ? null : Math.min(...values);
}
