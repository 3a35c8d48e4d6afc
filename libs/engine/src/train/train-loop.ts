/**
 * `train()`: supervised training of a model on a dataset, seeded and resumable. Every random
 * choice is a pure function of (seed, epoch, step): the epoch's order and each batch's
 * augmentation. So a run resumed from a checkpoint takes exactly the steps an uninterrupted run
 * would have taken, and the same seed gives the same weights bit for bit on one backend.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { GraphExecutor, type Model } from '../graph';
import {
  SeededRandom,
  augmentBatch,
  batchesPerEpoch,
  deriveSeed,
  epochOrder,
  gatherBatch,
  normalizedZero,
  type Batch,
  type Dataset,
} from '../data';
import { loadCheckpoint, saveCheckpoint, type TrainPosition } from './checkpoint';
import { DataParallelGradientSource } from './data-parallel';
import { evaluate } from './evaluate';
import { LocalGradientSource, flatLayout, unflatten, type GradientSource } from './gradient-source';
import type { LrSchedule } from './lr-schedule';
import { Optimizer, type OptimizerConfig, type ParamGroup } from './optimizer';

/** The settings that define a run; a resume must use the same ones. */
export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  lr: number;
  schedule: 'cosine' | 'step' | 'constant';
  /** Step schedule: epochs at which the rate is multiplied by `gamma` (default 0.1). */
  milestones?: number[];
  gamma?: number;
  warmupEpochs?: number;
  weightDecay?: number;
  /** Decay BN gamma/beta and biases too (PyTorch's default); off by default, kernels only. */
  decayAllParams?: boolean;
  labelSmoothing?: number;
  /** Random crop after padding by this many pixels (0 = off). */
  padCrop?: number;
  /** Horizontal flips; refused for datasets where a mirror changes the class (digits). */
  flip?: boolean;
  seed?: number;
}

export interface TrainProgress {
  kind: 'step' | 'epoch';
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  globalStep: number;
  totalSteps: number;
  /** Running mean over the epoch so far. */
  loss: number;
  accuracy: number;
  lr: number;
  imagesPerSecond: number;
  etaSeconds: number;
  /** Epoch events only, when evaluation is on. */
  testAccuracy?: number;
  testLoss?: number;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testAccuracy?: number;
  testLoss?: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainOptions extends TrainConfig {
  model: Model;
  dataset: Dataset;
  /** Data-parallel replicas (this thread + workers - 1); 1 trains on this thread only. */
  workers?: number;
  /** Evaluate on the test split after each epoch (default true). */
  evaluateEachEpoch?: boolean;
  /** Checkpoint file, written at the end of every epoch (and every `checkpointEverySteps`). */
  checkpointPath?: string;
  checkpointEverySteps?: number;
  /** Continue from `checkpointPath` when it exists. */
  resume?: boolean;
  /** Stop (after checkpointing) once this many global steps are done: for tests and budgets. */
  stopAtStep?: number;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  /** Milliseconds clock for throughput and ETA. */
  now?: () => number;
}

export interface TrainResult {
  model: Model;
  history: EpochRecord[];
  globalStep: number;
  completed: boolean;
  testAccuracy?: number;
  testLoss?: number;
  seconds: number;
}

interface CheckpointExtra {
  history: EpochRecord[];
}

export function configFingerprint(config: TrainConfig, model: Model, dataset: Dataset): string {
  const fields = {
    epochs: config.epochs,
    batchSize: config.batchSize,
    optimizer: config.optimizer,
    lr: config.lr,
    schedule: config.schedule,
    milestones: config.milestones ?? null,
    gamma: config.gamma ?? null,
    warmupEpochs: config.warmupEpochs ?? 0,
    weightDecay: config.weightDecay ?? 0,
    decayAllParams: config.decayAllParams ?? false,
    labelSmoothing: config.labelSmoothing ?? 0,
    padCrop: config.padCrop ?? 0,
    flip: config.flip ?? false,
    seed: config.seed ?? 0,
    architecture: model.graph.architecture,
    dataset: dataset.name,
    trainCount: dataset.train.count,
  };
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 16);
}

function buildSchedule(config: TrainConfig, stepsPerEpoch: number): LrSchedule {
  const warmupSteps = Math.round((config.warmupEpochs ?? 0) * stepsPerEpoch);
  const totalSteps = config.epochs * stepsPerEpoch;
  switch (config.schedule) {
    case 'constant':
      return { kind: 'constant', lr: config.lr, warmupSteps };
    case 'cosine':
      return { kind: 'cosine', lr: config.lr, totalSteps, warmupSteps };
    case 'step':
      return {
        kind: 'step',
        lr: config.lr,
        milestones: (config.milestones ?? []).map((e) => Math.round(e * stepsPerEpoch)),
        gamma: config.gamma ?? 0.1,
        warmupSteps,
      };
  }
}

function parameterGroups(
  executor: GraphExecutor,
  config: TrainConfig,
  schedule: LrSchedule,
): ParamGroup[] {
  const wd = config.weightDecay ?? 0;
  const decayed = new Map<string, tf.Variable>();
  const plain = new Map<string, tf.Variable>();
  for (const [name, v] of executor.trainable) {
    (config.decayAllParams || name.endsWith('/kernel') ? decayed : plain).set(name, v);
  }
  return [
    { name: 'decay', params: decayed, schedule, weightDecay: wd },
    { name: 'no-decay', params: plain, schedule, weightDecay: 0 },
  ];
}

export function validateTrainConfig(config: TrainConfig, dataset: Dataset): void {
  const positiveInt = (v: number, what: string) => {
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`${what} must be a positive integer, got ${v}`);
  };
  positiveInt(config.epochs, 'epochs');
  positiveInt(config.batchSize, 'batchSize');
  if (!dataset.train.labels)
    throw new Error(`train() needs labels; ${dataset.name} train split has none`);
  if (config.batchSize > dataset.train.count) {
    throw new Error(
      `batch size ${config.batchSize} exceeds the ${dataset.train.count} training examples`,
    );
  }
  if (config.flip && !dataset.flipInvariant) {
    throw new Error(`horizontal flips change the class of ${dataset.name} images; turn flip off`);
  }
  const ls = config.labelSmoothing ?? 0;
  if (!(ls >= 0 && ls < 1)) throw new Error(`labelSmoothing must be in [0, 1), got ${ls}`);
}

/** The batch for (epoch, step): examples in the epoch's order, augmented with a per-step seed. */
export function trainingBatch(
  dataset: Dataset,
  config: TrainConfig,
  order: Int32Array,
  epoch: number,
  step: number,
): Batch {
  const size = dataset.inputShape[0] * dataset.inputShape[1] * dataset.inputShape[2];
  const indices = order.subarray(step * config.batchSize, (step + 1) * config.batchSize);
  return augmentTrainingBatch(
    gatherBatch(dataset.train, size, indices),
    dataset,
    config,
    epoch,
    step,
  );
}

/** The training-time augmentation of a run: what `trainingBatch` applies. */
export type TrainingAugmentation = Pick<TrainConfig, 'padCrop' | 'flip' | 'seed'>;

/**
 * `batch` shifted (pad-crop) and mirrored as `augmentation` asks, with the seed of step
 * (epoch, step); the batch itself when it asks for neither. Training loops that assemble their
 * own batches (distillation, quantization) use it to augment exactly as `train` does.
 */
export function augmentTrainingBatch(
  batch: Batch,
  dataset: Dataset,
  augmentation: TrainingAugmentation,
  epoch: number,
  step: number,
): Batch {
  const padCrop = augmentation.padCrop ?? 0;
  if (!(padCrop > 0 || augmentation.flip)) return batch;
  const rng = new SeededRandom(deriveSeed(augmentation.seed ?? 0, epoch, step, 0xa06));
  const images = augmentBatch(
    batch.images,
    batch.count,
    dataset.inputShape,
    {
      padCrop,
      flip: augmentation.flip ?? false,
      fill: normalizedZero(dataset.normalization, dataset.inputShape[2]),
    },
    rng,
  );
  return { ...batch, images };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function train(options: TrainOptions): Promise<TrainResult> {
  const { dataset } = options;
  validateTrainConfig(options, dataset);
  const now = options.now ?? (() => performance.now());
  const started = now();
  const seed = options.seed ?? 0;
  const stepsPerEpoch = batchesPerEpoch(dataset.train.count, options.batchSize, true);
  const totalSteps = stepsPerEpoch * options.epochs;
  const fingerprint = configFingerprint(options, options.model, dataset);

  let position: TrainPosition = { epoch: 0, stepInEpoch: 0, globalStep: 0 };
  let history: EpochRecord[] = [];
  let model = options.model;
  const resumeFrom =
    options.resume && options.checkpointPath && existsSync(options.checkpointPath)
      ? loadCheckpoint<CheckpointExtra>(options.checkpointPath)
      : null;
  if (resumeFrom) {
    if (resumeFrom.fingerprint !== fingerprint) {
      throw new Error(
        `checkpoint ${options.checkpointPath} was made with different settings (fingerprint ${resumeFrom.fingerprint}, now ${fingerprint}); use the same settings or another checkpoint path`,
      );
    }
    model = resumeFrom.model;
    position = resumeFrom.position;
    history = resumeFrom.extra.history;
  }

  const executor = new GraphExecutor(model);
  const schedule = buildSchedule(options, stepsPerEpoch);
  const optimizer = new Optimizer(options.optimizer, parameterGroups(executor, options, schedule));
  if (resumeFrom) optimizer.importState(resumeFrom.optimizer);
  const layout = flatLayout(executor, [...optimizer.parameters().keys()]);
  const labelSmoothing = options.labelSmoothing ?? 0;
  const replicas = options.workers ?? 1;
  let source: GradientSource | null = null;

  const checkpoint = () => {
    if (!options.checkpointPath) return;
    saveCheckpoint<CheckpointExtra>(options.checkpointPath, {
      model: executor.toModel(),
      optimizer: optimizer.exportState(),
      position,
      fingerprint,
      extra: { history },
    });
  };

  try {
    source =
      replicas > 1
        ? await DataParallelGradientSource.start(executor, layout, { replicas, labelSmoothing })
        : new LocalGradientSource(executor, layout, labelSmoothing);
    let stepsThisRun = 0;
    let runSeconds = 0;
    for (let epoch = position.epoch; epoch < options.epochs; epoch++) {
      const order = epochOrder(dataset.train.count, seed, epoch);
      const epochStart = now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (let step = position.stepInEpoch; step < stepsPerEpoch; step++) {
        if (options.signal?.aborted) {
          checkpoint();
          const where = options.checkpointPath
            ? `; the checkpoint ${options.checkpointPath} resumes it with the same settings`
            : '';
          throw new Error(`training aborted at step ${position.globalStep}${where}`);
        }
        if (options.stopAtStep !== undefined && position.globalStep >= options.stopAtStep) {
          checkpoint();
          return finish(false);
        }
        const stepStart = now();
        const batch = trainingBatch(dataset, options, order, epoch, step);
        const lr = optimizer.learningRates()['decay']!;
        const result = await source.compute(batch);
        tf.tidy(() => {
          optimizer.apply(unflatten(layout.params, result.grads, executor.trainable));
          if (result.state.length > 0) {
            executor.applyStateUpdates(unflatten(layout.state, result.state, executor.state));
          }
        });
        lossSum += result.loss * result.count;
        correct += result.correct;
        seen += result.count;
        position = { epoch, stepInEpoch: step + 1, globalStep: position.globalStep + 1 };
        stepsThisRun++;
        runSeconds += (now() - stepStart) / 1000;
        const stepSeconds = runSeconds / stepsThisRun;
        options.onProgress?.({
          kind: 'step',
          epoch,
          epochs: options.epochs,
          step: step + 1,
          stepsPerEpoch,
          globalStep: position.globalStep,
          totalSteps,
          loss: lossSum / seen,
          accuracy: correct / seen,
          lr,
          imagesPerSecond: options.batchSize / stepSeconds,
          etaSeconds: (totalSteps - position.globalStep) * stepSeconds,
        });
        if (
          options.checkpointEverySteps &&
          position.globalStep % options.checkpointEverySteps === 0
        ) {
          checkpoint();
        }
        await yieldToEventLoop();
      }
      const seconds = (now() - epochStart) / 1000;
      const record: EpochRecord = {
        epoch,
        trainLoss: seen ? lossSum / seen : NaN,
        trainAccuracy: seen ? correct / seen : NaN,
        seconds,
        imagesPerSecond: seen / Math.max(seconds, 1e-9),
      };
      if (options.evaluateEachEpoch ?? true) {
        const ev = evaluate(executor, dataset.test);
        record.testAccuracy = ev.accuracy;
        record.testLoss = ev.loss;
      }
      history.push(record);
      position = { epoch: epoch + 1, stepInEpoch: 0, globalStep: position.globalStep };
      checkpoint();
      options.onProgress?.({
        kind: 'epoch',
        epoch,
        epochs: options.epochs,
        step: stepsPerEpoch,
        stepsPerEpoch,
        globalStep: position.globalStep,
        totalSteps,
        loss: record.trainLoss,
        accuracy: record.trainAccuracy,
        lr: optimizer.learningRates()['decay']!,
        imagesPerSecond: record.imagesPerSecond,
        etaSeconds:
          (totalSteps - position.globalStep) * (stepsThisRun ? runSeconds / stepsThisRun : 0),
        ...(record.testAccuracy !== undefined ? { testAccuracy: record.testAccuracy } : {}),
        ...(record.testLoss !== undefined ? { testLoss: record.testLoss } : {}),
      });
    }
    return finish(true);
  } finally {
    await source?.close();
    optimizer.dispose();
    executor.dispose();
  }

  function finish(completed: boolean): TrainResult {
    const last = history[history.length - 1];
    return {
      model: executor.toModel(),
      history,
      globalStep: position.globalStep,
      completed,
      ...(last?.testAccuracy !== undefined ? { testAccuracy: last.testAccuracy } : {}),
      ...(last?.testLoss !== undefined ? { testLoss: last.testLoss } : {}),
      seconds: (now() - started) / 1000,
    };
  }
}
