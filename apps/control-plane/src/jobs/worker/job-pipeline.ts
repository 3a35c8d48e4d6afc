/**
 * What a job's child process does: load the base model and the dataset, run AAP (checkpointed
 * every round) and then SQAKD on its result when asked, and report every round, its variant
 * file and the progress to the parent. A restarted job resumes from the last checkpoint: AAP
 * rounds already finished are not run again, a finished stage is not run again.
 */
import {
  type AapCheckpoint,
  type AapEvent,
  CachedLatencyOracle,
  type LatencyOracle,
  type Objective,
  type RoundMetrics,
  modelCost,
  parseBitSpec,
  runAap,
  runSqakd,
  validateQuantizationConfig,
} from '@edgecompress/compress';
import {
  type Dataset,
  type Model,
  evaluate,
  exportOnnx,
  importOnnx,
  initEngineBackend,
  loadDataset,
  loadModel,
  serializeModel,
  syntheticDataset,
} from '@edgecompress/engine';
import { existsSync, readFileSync } from 'node:fs';
import type {
  JobMethod,
  JobObjectiveOutcome,
  JobProgress,
  JobRoundRecord,
  JobSpec,
} from '../job.types';
import { IpcLatencyOracle, type LatencyChannel, deployableOnnx } from './ipc-latency.oracle';
import { JobCheckpointStore, writeFileAtomically } from './job-checkpoint.store';
import { type JobMetrics, judgeResult, judgeStep } from './job-objective';
import type { ChildMessage, WorkerRound, WorkerStart } from './job-worker.protocol';
import { sqakdStageProgress } from './sqakd-progress';

export interface PipelineChannel extends LatencyChannel {
  send(message: ChildMessage): void;
}

export function loadJobDataset(spec: JobSpec, model: Model): Dataset {
  const { name, limitTrain, limitTest } = spec.dataset;
  if (name === 'synthetic') {
    // Synthetic data takes the model's own input shape and classes.
    return syntheticDataset({
      inputShape: model.graph.inputShape as [number, number, number],
      numClasses: model.graph.numClasses,
      trainCount: limitTrain ?? 600,
      testCount: limitTest ?? 200,
      seed: 7,
    });
  }
  const limit = {
    ...(limitTrain ? { train: limitTrain } : {}),
    ...(limitTest ? { test: limitTest } : {}),
  };
  const dataset = loadDataset(name, limitTrain || limitTest ? { limit } : {});
  if (
    dataset.inputShape.join('x') !== model.graph.inputShape.join('x') ||
    dataset.numClasses !== model.graph.numClasses
  ) {
    throw new Error(
      `the model takes [${model.graph.inputShape.join(', ')}] with ${model.graph.numClasses} classes, ` +
        `but ${dataset.name} has [${dataset.inputShape.join(', ')}] with ${dataset.numClasses}`,
    );
  }
  return dataset;
}

/** The compress library's objective for a job's objective; the device is named by `deviceKey`. */
export function compressObjective(spec: JobSpec, deviceKey: string | null): Objective {
  const o = spec.objective;
  return {
    metric: o.metric,
    ...(o.target !== undefined ? { target: o.target } : {}),
    maxAccuracyDrop: o.maxAccuracyDrop,
    ...(deviceKey ? { device: deviceKey } : {}),
    latencySource: o.latencySource,
  };
}

/** A finished stage's result: the next stage's input, and the job's result if none improves on it. */
interface StageOutput {
  method: JobMethod;
  /** The round whose variant holds the model (AAP: its result round; 0 = the base model). */
  round: number;
  model: Model;
  metrics: JobMetrics;
  summary: Record<string, unknown>;
}

function aapMetrics(m: RoundMetrics): JobMetrics {
  return {
    accuracy: m.testAccuracy ?? m.accuracy,
    params: m.params,
    flops: m.flops,
    bytes: m.sizeBytes,
    latencyMs: m.latencyMs ?? null,
  };
}

function isJobMetrics(v: unknown): v is JobMetrics {
  const m = v as Partial<JobMetrics> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.accuracy === 'number' &&
    typeof m.params === 'number' &&
    typeof m.flops === 'number' &&
    typeof m.bytes === 'number' &&
    (m.latencyMs === null || typeof m.latencyMs === 'number')
  );
}

export class JobPipeline {
  private readonly store: JobCheckpointStore;
  private readonly oracle: IpcLatencyOracle | null;
  private readonly cachedOracle: LatencyOracle | undefined;
  private readonly ext: 'ecm' | 'onnx';
  /** The base model's figures, the reference of the accuracy budget and of the targets. */
  private baseline: JobMetrics | null = null;
  private previous: StageOutput | null = null;

  constructor(
    private readonly start: WorkerStart,
    private readonly channel: PipelineChannel,
  ) {
    this.store = new JobCheckpointStore(start.workDir);
    this.oracle = start.deviceKey ? new IpcLatencyOracle(channel, start.deviceKey) : null;
    this.cachedOracle = this.oracle ? new CachedLatencyOracle(this.oracle) : undefined;
    this.ext = start.baseFormat === 'engine' ? 'ecm' : 'onnx';
  }

  async run(): Promise<void> {
    await initEngineBackend();
    const { spec } = this.start;
    const base =
      this.start.baseFormat === 'engine'
        ? loadModel(this.start.baseModelPath)
        : importOnnx(readFileSync(this.start.baseModelPath)).model;
    const dataset = loadJobDataset(spec, base);
    this.log(
      `${spec.pipeline.join(' -> ')} on ${base.graph.architecture} with ${dataset.name} ` +
        `(${dataset.train.count} train / ${dataset.test.count} test)`,
    );
    let current = base;
    for (const [index, method] of spec.pipeline.entries()) {
      const last = index === spec.pipeline.length - 1;
      const share = (f: number): number => (index + f) / spec.pipeline.length;
      current =
        method === 'aap'
          ? await this.runAapStage(current, dataset, last, share)
          : await this.runSqakdStage(base, current, dataset, last, share);
    }
    this.progress({ step: 'done', fraction: 1, message: 'finished' });
  }

  private async runAapStage(
    input: Model,
    dataset: Dataset,
    last: boolean,
    share: (f: number) => number,
  ): Promise<Model> {
    const o = this.start.spec.options?.aap ?? {};
    const done = this.store.loadStage('aap');
    if (done) {
      this.log(`aap finished before a restart (round ${done.result.round}); not run again`);
      const s = done.result.summary;
      const metrics = isJobMetrics(s.output)
        ? s.output
        : this.metricsOf(done.model, dataset, typeof s.latencyMs === 'number' ? s.latencyMs : null);
      this.baseline ??= isJobMetrics(s.baseline) ? s.baseline : null;
      this.finishStage(
        { method: 'aap', round: done.result.round, model: done.model, metrics, summary: s },
        last,
      );
      return done.model;
    }
    const saved = this.store.loadAap();
    const predictedMs = saved?.predictedMs ?? new Map<number, number | null>();
    const sent = new Set<number>();
    const startedHere: number[] = [];
    if (saved) {
      const lastRound = saved.checkpoint.trajectory.at(-1)!.round;
      this.log(`resuming aap after round ${lastRound}`);
      // The parent ignores records it already has; these fill any gap a restart left.
      for (const record of saved.checkpoint.trajectory) {
        this.sendAapRecord(record, predictedMs, saved.checkpoint.models);
        sent.add(record.round);
      }
    }
    const maxRounds = o.maxRounds ?? 10;
    const fineTune = o.steps !== undefined ? { steps: o.steps } : { epochs: o.epochs ?? 1 };
    if (this.oracle) this.oracle.label = `job ${this.start.jobId} aap baseline`;
    const result = await runAap(
      input,
      dataset,
      {
        objective: compressObjective(this.start.spec, this.start.deviceKey),
        fineTune: {
          ...fineTune,
          batchSize: o.batchSize ?? 64,
          lr: o.lr ?? 0.01,
          weightDecay: o.weightDecay ?? 5e-4,
          seed: o.seed ?? 0,
        },
        maxRounds,
        testEveryRound: true,
        ...(o.lambda !== undefined ? { lambda: o.lambda } : {}),
        ...(o.validationCount !== undefined ? { validationCount: o.validationCount } : {}),
        ...(o.calibrationBatches !== undefined ? { calibrationBatches: o.calibrationBatches } : {}),
        ...(o.minChannels !== undefined ? { minChannels: o.minChannels } : {}),
        ...(o.channelMultiple !== undefined ? { channelMultiple: o.channelMultiple } : {}),
        ...(o.wallClockMs !== undefined ? { wallClockMs: o.wallClockMs } : {}),
        ...(saved ? { resumeFrom: saved.checkpoint } : {}),
        // Rounds that fail the accuracy guard cannot be kept: predicted, not measured.
        ...(this.oracle && this.start.spec.objective.latencySource === 'measured'
          ? { rejectedLatency: (m: Model, d: string) => this.oracle!.predict(m, d) }
          : {}),
        onProgress: (e: AapEvent) => {
          if (e.kind === 'round-start') startedHere.push(e.round);
          this.onAapEvent(e, maxRounds, share, predictedMs);
        },
        onCheckpoint: (cp: AapCheckpoint) => {
          this.store.saveAap(cp, predictedMs);
          for (const record of cp.trajectory) {
            if (sent.has(record.round)) continue;
            this.sendAapRecord(record, predictedMs, cp.models);
            sent.add(record.round);
          }
        },
      },
      this.cachedOracle,
    );
    const summary = {
      threshold: result.trajectory.find((r) => r.round === result.round)?.threshold ?? 0,
      lambda: result.provenance.lambda,
      accuracy: result.metrics.accuracy,
      testAccuracy: result.metrics.testAccuracy ?? null,
      latencyMs: result.metrics.latencyMs ?? null,
      latencySource: result.metrics.latencySource ?? null,
      predictedMs: predictedMs.get(result.round) ?? null,
      lastRound: result.trajectory.at(-1)!.round,
      summary: result.summary,
      baseline: aapMetrics(result.baseline),
      output: aapMetrics(result.metrics),
    };
    this.store.saveStage('aap', result.model, { round: result.round, summary });
    this.log(
      `aap rounds run by this process: ${startedHere.length ? startedHere.join(', ') : 'none'}`,
    );
    if (this.oracle && this.start.spec.objective.latencySource === 'measured') {
      this.log(
        `fleet measurements asked for: ${this.oracle.asked.measure}; ` +
          `rounds over the accuracy budget predicted instead: ${this.oracle.asked.predict}`,
      );
    }
    this.log(result.summary);
    this.baseline ??= summary.baseline;
    this.finishStage(
      { method: 'aap', round: result.round, model: result.model, metrics: summary.output, summary },
      last,
    );
    return result.model;
  }

  /** A kept stage result becomes the next stage's input, or the job's result when it is last. */
  private finishStage(output: StageOutput, last: boolean): void {
    this.previous = output;
    if (!last) return;
    this.sendFinal(
      output.method,
      output.model,
      output.summary,
      output.round,
      this.baseline
        ? judgeResult(this.start.spec.objective, this.baseline, output.metrics)
        : undefined,
    );
  }

  /** Test accuracy and cost of a model, for a stage that has no figures from an earlier one. */
  private metricsOf(model: Model, dataset: Dataset, latencyMs: number | null): JobMetrics {
    const cost = modelCost(model);
    return {
      accuracy: dataset.test.labels ? evaluate(model, dataset.test).accuracy : 0,
      params: cost.params,
      flops: cost.flops,
      bytes: cost.sizeBytes,
      latencyMs,
    };
  }

  private onAapEvent(
    e: AapEvent,
    maxRounds: number,
    share: (f: number) => number,
    predictedMs: Map<number, number | null>,
  ): void {
    if (e.kind === 'baseline') {
      predictedMs.set(0, this.oracle?.lastPredictedMs ?? null);
      this.progress({ step: 'aap', fraction: share(0), message: 'baseline measured' });
    } else if (e.kind === 'round-start') {
      if (this.oracle) this.oracle.label = `job ${this.start.jobId} aap round ${e.round}`;
      this.progress({
        step: 'aap',
        fraction: share((e.round - 1) / maxRounds),
        message: `round ${e.round}: threshold ${e.threshold.toPrecision(4)}, -${e.removedChannels} channels`,
      });
    } else if (e.kind === 'fine-tune') {
      const within = (e.step + 1) / Math.max(1, e.totalSteps);
      this.progress({
        step: 'aap',
        fraction: share((e.round - 1 + within) / maxRounds),
        message: `round ${e.round}: fine-tune step ${e.step + 1}/${e.totalSteps}, loss ${e.loss.toFixed(3)}`,
      });
    } else if (e.kind === 'round') {
      predictedMs.set(e.record.round, this.oracle?.lastPredictedMs ?? null);
      this.progress({
        step: 'aap',
        fraction: share(e.record.round / maxRounds),
        message: `round ${e.record.round}: ${e.record.verdict}`,
      });
    }
  }

  private sendAapRecord(
    record: AapCheckpoint['trajectory'][number],
    predictedMs: ReadonlyMap<number, number | null>,
    models: ReadonlyMap<number, Model>,
  ): void {
    const m = record.metrics;
    let variantPath: string | null = null;
    let onnxPath: string | null = null;
    if (record.verdict === 'kept') {
      const path = this.store.variantPath('aap', record.round, this.ext);
      const model = models.get(record.round);
      // A resumed job may no longer hold a kept round's model; its file was written the first time.
      if (model && !existsSync(path)) writeFileAtomically(path, this.variantBytesSync(model));
      if (existsSync(path)) variantPath = path;
      if (this.ext === 'ecm') {
        const onnx = this.store.variantPath('aap', record.round, 'onnx');
        if (model && !existsSync(onnx)) writeFileAtomically(onnx, exportOnnx(model));
        if (existsSync(onnx)) onnxPath = onnx;
      }
    }
    const message: WorkerRound = {
      type: 'round',
      record: {
        method: 'aap',
        round: record.round,
        threshold: record.threshold,
        lambda: record.lambda,
        params: m.params,
        flops: m.flops,
        bytes: m.sizeBytes,
        accuracy: m.accuracy,
        testAccuracy: m.testAccuracy ?? null,
        latencyMs: m.latencyMs ?? null,
        latencySource: latencySourceOf(m.latencySource),
        predictedMs: predictedMs.get(record.round) ?? null,
        verdict: record.verdict,
      },
      variantPath,
      onnxPath,
      sameAsRound: null,
      options: {
        threshold: record.threshold,
        lambda: record.lambda,
        startFrom: record.startFrom,
        removedChannels: record.removedChannels,
      },
    };
    this.channel.send(message);
  }

  /** The stage's result as the job's final record; its variant is the one of `round`. */
  private sendFinal(
    method: JobMethod,
    model: Model,
    summary: Record<string, unknown>,
    round: number,
    outcome?: JobObjectiveOutcome,
  ): void {
    const cost = modelCost(model);
    const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
    this.channel.send({
      type: 'round',
      record: {
        method,
        round: (num(summary.lastRound) ?? round) + 1,
        threshold: num(summary.threshold) ?? 0,
        lambda: num(summary.lambda) ?? 0,
        params: cost.params,
        flops: cost.flops,
        bytes: num(summary.bytes) ?? cost.sizeBytes,
        accuracy: num(summary.accuracy) ?? 0,
        testAccuracy: num(summary.testAccuracy),
        latencyMs: num(summary.latencyMs),
        latencySource: latencySourceOf(summary.latencySource),
        predictedMs: num(summary.predictedMs),
        verdict: 'final',
        ...(outcome ? { outcome } : {}),
      },
      variantPath: null,
      sameAsRound: round,
      options: { summary: summary.summary ?? null },
    });
  }

  private async runSqakdStage(
    teacher: Model,
    student: Model,
    dataset: Dataset,
    last: boolean,
    share: (f: number) => number,
  ): Promise<Model> {
    const input = await this.stageInput(student, dataset);
    const done = this.store.loadStage('sqakd');
    if (done) {
      this.log('sqakd finished before a restart; not run again');
      return this.concludeSqakd(done.model, done.result.summary, input, last);
    }
    const o = this.start.spec.options?.sqakd ?? {};
    const quantization = {
      ...parseBitSpec(o.bits ?? 'w8a8'),
      quantizer: o.quantizer ?? 'lsq',
    };
    validateQuantizationConfig(quantization);
    const epochs = o.epochs ?? 1;
    this.progress({ step: 'sqakd', fraction: share(0), message: `quantizing ${o.bits ?? 'w8a8'}` });
    const result = runSqakd(dataset, {
      teacher,
      studentInit: student,
      quantization,
      epochs,
      ...(o.stepsPerEpoch !== undefined ? { stepsPerEpoch: o.stepsPerEpoch } : {}),
      batchSize: Math.min(o.batchSize ?? 64, dataset.train.count),
      loss: o.loss ?? 'kd',
      seed: o.seed ?? 0,
      ...(o.evalLimit !== undefined ? { evalLimit: o.evalLimit } : {}),
      onProgress: (p) => {
        const { within, message } = sqakdStageProgress(p, epochs);
        this.progress({ step: 'sqakd', fraction: share(within), message });
      },
    });
    if (this.oracle) this.oracle.label = `job ${this.start.jobId} sqakd`;
    const latency = this.cachedOracle
      ? await this.cachedOracle.measure(result.model, this.start.deviceKey!)
      : undefined;
    const onnx = await deployableOnnx(result.model);
    const summary = {
      accuracy: dataset.test.labels ? evaluate(result.model, dataset.test).accuracy : 0,
      bytes: onnx.length,
      latencyMs: latency?.p50Ms ?? null,
      latencySource: latency?.source ?? null,
      predictedMs: latency ? (this.oracle?.lastPredictedMs ?? null) : null,
      bits: o.bits ?? 'w8a8',
      quantizer: quantization.quantizer,
    };
    this.store.saveStage('sqakd', result.model, { round: 1, summary });
    return this.concludeSqakd(result.model, summary, input, last);
  }

  /**
   * The figures of a stage's input: those of the stage before it, or, for a first stage, the base
   * model's own (its latency measured only when the objective is latency).
   */
  private async stageInput(model: Model, dataset: Dataset): Promise<StageOutput> {
    if (this.previous) return this.previous;
    let latencyMs: number | null = null;
    if (this.cachedOracle && this.start.spec.objective.metric === 'latency') {
      if (this.oracle) this.oracle.label = `job ${this.start.jobId} baseline`;
      latencyMs = (await this.cachedOracle.measure(model, this.start.deviceKey!)).p50Ms;
    }
    const metrics = this.metricsOf(model, dataset, latencyMs);
    this.baseline ??= metrics;
    const summary = {
      lastRound: 1,
      accuracy: metrics.accuracy,
      testAccuracy: metrics.accuracy,
      latencyMs,
      latencySource: latencyMs === null ? null : this.start.spec.objective.latencySource,
    };
    return { method: 'sqakd', round: 0, model, metrics, summary };
  }

  /**
   * Records the quantized model (always a stored variant, for the Pareto set) and keeps it only
   * if it is at least as good on the objective as its input; otherwise the input carries on and,
   * when this is the last stage, is the job's result.
   */
  private async concludeSqakd(
    model: Model,
    summary: Record<string, unknown>,
    input: StageOutput,
    last: boolean,
  ): Promise<Model> {
    const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
    const cost = modelCost(model);
    const metrics: JobMetrics = {
      accuracy: num(summary.accuracy) ?? 0,
      params: cost.params,
      flops: cost.flops,
      bytes: num(summary.bytes) ?? cost.sizeBytes,
      latencyMs: num(summary.latencyMs),
    };
    const objective = this.start.spec.objective;
    const baseline = this.baseline ?? input.metrics;
    const decision = judgeStep(objective, baseline, input.metrics, metrics);
    this.log(`sqakd ${decision.keep ? 'kept' : 'not kept'}: ${decision.why}`);
    const output: StageOutput = { method: 'sqakd', round: 1, model, metrics, summary };
    await this.sendSqakdRecord(
      model,
      summary,
      decision.keep ? (last ? 'final' : 'kept') : 'rolled-back',
      decision.keep ? undefined : decision.why,
      decision.keep && last ? judgeResult(objective, baseline, metrics) : undefined,
    );
    if (decision.keep) {
      this.previous = output;
      return model;
    }
    // The input carries on; as the last stage it becomes the job's final record.
    this.finishStage(input, last);
    return input.model;
  }

  private async sendSqakdRecord(
    model: Model,
    summary: Record<string, unknown>,
    verdict: JobRoundRecord['verdict'],
    rejected: string | undefined,
    outcome: JobObjectiveOutcome | undefined,
  ): Promise<void> {
    const cost = modelCost(model);
    const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
    const variantPath = this.store.variantPath('sqakd', 1, this.ext);
    const onnx = await deployableOnnx(model);
    writeFileAtomically(variantPath, this.ext === 'ecm' ? serializeModel(model) : onnx);
    // An engine-format job also keeps the quantized model in the form devices run.
    const onnxPath = this.ext === 'ecm' ? this.store.variantPath('sqakd', 1, 'onnx') : null;
    if (onnxPath) writeFileAtomically(onnxPath, onnx);
    this.channel.send({
      type: 'round',
      record: {
        method: 'sqakd',
        round: 1,
        threshold: 0,
        lambda: 0,
        params: cost.params,
        flops: cost.flops,
        bytes: num(summary.bytes) ?? cost.sizeBytes,
        accuracy: num(summary.accuracy) ?? 0,
        testAccuracy: num(summary.accuracy),
        latencyMs: num(summary.latencyMs),
        latencySource: latencySourceOf(summary.latencySource),
        predictedMs: num(summary.predictedMs),
        verdict,
        ...(rejected ? { rejected } : {}),
        ...(outcome ? { outcome } : {}),
      },
      variantPath,
      onnxPath,
      sameAsRound: null,
      options: { bits: summary.bits, quantizer: summary.quantizer },
    });
  }

  /** AAP candidates are float models: the engine file or the plain (synchronous) ONNX export. */
  private variantBytesSync(model: Model): Uint8Array {
    return this.ext === 'ecm' ? serializeModel(model) : exportOnnx(model);
  }

  private progress(progress: JobProgress): void {
    this.channel.send({ type: 'progress', progress });
  }

  private log(message: string): void {
    this.channel.send({ type: 'log', message });
  }
}

function latencySourceOf(source: unknown): JobRoundRecord['latencySource'] {
  return source === 'measured' || source === 'predicted' ? source : null;
}
