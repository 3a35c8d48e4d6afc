/**
 * The demo's starting model: the small CNN trained briefly on MNIST, kept in the data dir so a
 * second run loads it instead of training again, and exported to ONNX for the fleet.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTraining, type TrainCliOptions } from '../commands/train.command';

export interface BaselineOptions {
  dir: string;
  limitTrain: number;
  limitTest: number;
  epochs: number;
  log: (line: string) => void;
}

export interface Baseline {
  ecmPath: string;
  onnxPath: string;
  onnx: Buffer;
  testAccuracy: number | null;
  trained: boolean;
}

/** How the demo trains the small CNN on MNIST, for the baseline and for `edgec demo --train-only`. */
export const DEMO_TRAINING = {
  model: 'small-cnn',
  dataset: 'mnist',
  optimizer: 'sgd',
  lr: 0.05,
  momentum: 0.9,
  nesterov: true,
  schedule: 'cosine',
  gamma: 0.1,
  warmupEpochs: 0,
  weightDecay: 5e-4,
  labelSmoothing: 0,
  padCrop: 0,
  flip: false,
  seed: 0,
  resume: false,
} as const satisfies Partial<TrainCliOptions>;

/** Model files are tied to the budget they were trained with, so a bigger budget retrains. */
const fileStem = (o: BaselineOptions) => `baseline-small-cnn-mnist-${o.limitTrain}x${o.epochs}`;

export async function trainOrLoadBaseline(o: BaselineOptions): Promise<Baseline> {
  mkdirSync(o.dir, { recursive: true });
  const stem = fileStem(o);
  const ecmPath = join(o.dir, `${stem}.ecm`);
  const onnxPath = join(o.dir, `${stem}.onnx`);
  const infoPath = join(o.dir, `${stem}.json`);
  if (existsSync(ecmPath) && existsSync(onnxPath) && existsSync(infoPath)) {
    const info = JSON.parse(readFileSync(infoPath, 'utf8')) as { testAccuracy: number | null };
    o.log(`baseline: loaded ${ecmPath} (test accuracy ${pct(info.testAccuracy)})`);
    return {
      ecmPath,
      onnxPath,
      onnx: readFileSync(onnxPath),
      testAccuracy: info.testAccuracy,
      trained: false,
    };
  }
  o.log(`baseline: training the small CNN on ${o.limitTrain} MNIST digits for ${o.epochs} epochs`);
  const { result } = await runTraining({
    ...DEMO_TRAINING,
    epochs: o.epochs,
    batchSize: 32,
    workers: 1,
    limitTrain: o.limitTrain,
    limitTest: o.limitTest,
    out: ecmPath,
  });
  const engine = await import('@edgecompress/engine');
  const onnx = Buffer.from(engine.exportOnnx(result.model));
  writeFileSync(onnxPath, onnx);
  const testAccuracy = result.testAccuracy ?? null;
  // Written last: its presence means the model files beside it are complete.
  writeFileSync(
    infoPath,
    JSON.stringify({ testAccuracy, limitTrain: o.limitTrain, epochs: o.epochs }),
  );
  o.log(`baseline: test accuracy ${pct(testAccuracy)}, ONNX ${onnx.length} bytes`);
  return { ecmPath, onnxPath, onnx, testAccuracy, trained: true };
}

const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '-' : `${(100 * x).toFixed(2)}%`;
