/**
 * `edgec train`: trains a model (a builder architecture or a model file) on a dataset with a
 * progress bar, writes the model file and prints the final test accuracy. Resumable: with
 * --checkpoint, an interrupted run (Ctrl-C, crash) continues with --resume.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import type { Dataset, Model, OptimizerConfig, TrainResult } from '@edgecompress/engine';
import { createProgress } from '../ui/progress';

export interface TrainCliOptions {
  model: string;
  dataset: string;
  dataDir?: string;
  epochs: number;
  batchSize: number;
  optimizer: 'sgd' | 'adam' | 'adamw';
  lr: number;
  momentum: number;
  nesterov: boolean;
  schedule: 'cosine' | 'step' | 'constant';
  milestones?: number[];
  gamma: number;
  warmupEpochs: number;
  weightDecay: number;
  labelSmoothing: number;
  padCrop: number;
  flip?: boolean;
  seed: number;
  /** Width multiplier of every conv (VGG and MobileNetV2 builders). */
  width?: number;
  workers: number;
  limitTrain?: number;
  limitTest?: number;
  checkpoint?: string;
  resume: boolean;
  out?: string;
}

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`expected an integer, got "${v}"`);
  return n;
};
const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`expected a number, got "${v}"`);
  return n;
};

function optimizerConfig(o: TrainCliOptions): OptimizerConfig {
  switch (o.optimizer) {
    case 'sgd':
      return { kind: 'sgd', momentum: o.momentum, nesterov: o.nesterov && o.momentum > 0 };
    case 'adam':
      return { kind: 'adam' };
    case 'adamw':
      return { kind: 'adam', decoupledWeightDecay: true };
    default:
      throw new Error(`--optimizer must be sgd, adam or adamw, got "${String(o.optimizer)}"`);
  }
}

function resolveModel(
  engine: typeof import('@edgecompress/engine'),
  spec: string,
  dataset: Dataset,
  seed: number,
  width: number | undefined,
): Model {
  if (existsSync(spec)) {
    if (width !== undefined)
      throw new Error('--width applies to an architecture, not to a model file');
    return engine.loadModel(spec);
  }
  if (width !== undefined && !/^(vgg\d+|mobilenetv2)$/.test(spec)) {
    throw new Error(`--width applies to vgg* and mobilenetv2 only, not to "${spec}"`);
  }
  return engine.buildModel(spec, {
    inputShape: dataset.inputShape,
    numClasses: dataset.numClasses,
    seed,
    widthMultiplier: width,
  });
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);

/** Runs a training job with progress display; shared by `train` and `demo`. */
export async function runTraining(
  o: TrainCliOptions,
): Promise<{ result: TrainResult; dataset: Dataset }> {
  const engine = await import('@edgecompress/engine');
  const backend = await engine.initEngineBackend();
  const limit = {
    ...(o.limitTrain ? { train: o.limitTrain } : {}),
    ...(o.limitTest ? { test: o.limitTest } : {}),
  };
  const dataset = engine.loadDataset(o.dataset, {
    ...(o.dataDir ? { dir: o.dataDir } : {}),
    ...(o.limitTrain || o.limitTest ? { limit } : {}),
  });
  const model = resolveModel(engine, o.model, dataset, o.seed, o.width);
  const flip = o.flip ?? dataset.flipInvariant ?? false;
  const stepsPerEpoch = Math.floor(dataset.train.count / o.batchSize);
  process.stderr.write(
    `training ${model.graph.architecture} on ${dataset.name} (${dataset.train.count} train / ${dataset.test.count} test), ` +
      `${o.epochs} epochs x ${stepsPerEpoch} steps, batch ${o.batchSize}, ${o.optimizer} lr ${o.lr} ${o.schedule}, ` +
      `backend ${backend.name}, ${o.workers} worker${o.workers > 1 ? 's' : ''}\n`,
  );
  const progress = createProgress('train', o.epochs * stepsPerEpoch, [
    'epoch',
    'loss',
    'acc',
    'img/s',
  ]);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  try {
    const result = await engine.train({
      model,
      dataset,
      epochs: o.epochs,
      batchSize: o.batchSize,
      optimizer: optimizerConfig(o),
      lr: o.lr,
      schedule: o.schedule,
      ...(o.milestones ? { milestones: o.milestones } : {}),
      gamma: o.gamma,
      warmupEpochs: o.warmupEpochs,
      weightDecay: o.weightDecay,
      labelSmoothing: o.labelSmoothing,
      padCrop: o.padCrop,
      flip,
      seed: o.seed,
      workers: o.workers,
      ...(o.checkpoint ? { checkpointPath: o.checkpoint } : {}),
      resume: o.resume,
      signal: abort.signal,
      onProgress: (e) => {
        const fields = {
          epoch: `${e.epoch + 1}/${e.epochs}`,
          loss: e.loss.toFixed(4),
          acc: pct(e.accuracy),
          'img/s': e.imagesPerSecond.toFixed(0),
        };
        if (e.kind === 'step') progress.update(e.globalStep, fields);
        else
          progress.log(
            `epoch ${e.epoch + 1}/${e.epochs}: train loss ${e.loss.toFixed(4)} acc ${pct(e.accuracy)}, ` +
              `test acc ${pct(e.testAccuracy)} loss ${e.testLoss?.toFixed(4) ?? '-'}, ${e.imagesPerSecond.toFixed(0)} img/s`,
          );
      },
    });
    progress.stop();
    if (o.out) engine.saveModel(o.out, result.model);
    return { result, dataset };
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
  }
}

export function finalLine(result: TrainResult, datasetName: string, out?: string): string {
  return (
    `final test accuracy ${pct(result.testAccuracy)} (loss ${result.testLoss?.toFixed(4) ?? '-'}) on ${datasetName} ` +
    `after ${result.history.length} epochs in ${result.seconds.toFixed(1)} s${out ? `; model written to ${out}` : ''}`
  );
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train a model on a dataset and write it as a model file')
    .option(
      '-m, --model <arch|file>',
      'architecture (small-cnn, resnet20, vgg8, ...) or a model file',
      'small-cnn',
    )
    .option(
      '-d, --dataset <name>',
      'mnist, fashion-mnist, idx (with --data-dir) or synthetic',
      'mnist',
    )
    .option('--data-dir <dir>', 'directory of the IDX files (fashion-mnist, idx)')
    .option('-e, --epochs <n>', 'epochs', int, 3)
    .option('-b, --batch-size <n>', 'batch size', int, 64)
    .option('--optimizer <kind>', 'sgd, adam or adamw', 'sgd')
    .option('--lr <rate>', 'base learning rate', num, 0.05)
    .option('--momentum <m>', 'SGD momentum', num, 0.9)
    .option('--no-nesterov', 'plain (not Nesterov) momentum')
    .option('--schedule <kind>', 'cosine, step or constant', 'cosine')
    .option('--milestones <epochs>', 'step schedule: comma-separated epochs', (v: string) =>
      v.split(',').map(num),
    )
    .option('--gamma <g>', 'step schedule: decay factor', num, 0.1)
    .option('--warmup-epochs <n>', 'linear warm-up epochs', num, 0)
    .option('--weight-decay <wd>', 'weight decay (L2 for SGD/Adam, decoupled for AdamW)', num, 5e-4)
    .option('--label-smoothing <eps>', 'label smoothing', num, 0)
    .option('--pad-crop <px>', 'random crop after padding by px pixels (0 = off)', int, 0)
    .option('--flip', 'random horizontal flips (default: only where the dataset allows)')
    .option('--no-flip', 'no horizontal flips')
    .option('--seed <n>', 'seed for init, order and augmentation', int, 0)
    .option(
      '--width <multiplier>',
      'multiply every conv width (vgg*, mobilenetv2)',
      (v: string) => {
        const n = num(v);
        if (n <= 0 || n > 4) throw new Error(`--width must be in (0, 4], got "${v}"`);
        return n;
      },
    )
    .option('-w, --workers <n>', 'data-parallel worker threads (1 = this thread only)', int, 1)
    .option('--limit-train <n>', 'use only the first n training examples', int)
    .option('--limit-test <n>', 'use only the first n test examples', int)
    .option('--checkpoint <file>', 'checkpoint file written every epoch (and on Ctrl-C)')
    .option('--resume', 'continue from --checkpoint if it exists', false)
    .option('-o, --out <file>', 'model file to write')
    .action(async (o: TrainCliOptions) => {
      const { result, dataset } = await runTraining(o);
      process.stdout.write(finalLine(result, dataset.name, o.out) + '\n');
    });
}
