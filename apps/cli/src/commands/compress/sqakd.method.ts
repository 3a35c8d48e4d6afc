/**
 * `edgec compress sqakd`: Self-Supervised Quantization-Aware Knowledge Distillation. The model
 * is the frozen full-precision teacher; the student is its quantized copy (or a quantized copy
 * of --student-init, e.g. an AAP-pruned model) trained on the teacher's soft outputs only.
 *
 *   edgec compress sqakd -m teacher.ecm -d fashion-mnist --bits w2a2 --quantizer lsq --unlabeled
 *   edgec compress sqakd -m teacher.ecm -d mnist --bits w4a8 --loss ce   (label-trained baseline)
 */
import type { Command } from 'commander';
import type { Model, QuantizerKind, Split } from '@edgecompress/engine';
import type { SqakdLoss, SqakdResult } from '@edgecompress/compress';
import { createProgress, showEpochStep } from '../../ui/progress';
import {
  int,
  loadInputDataset,
  loadInputModel,
  num,
  withDatasetOptions,
  writeAtomically,
  writeResultReport,
  type DatasetFlags,
} from './method-inputs';

interface SqakdCliOptions extends DatasetFlags {
  model: string;
  studentInit?: string;
  bits: string;
  quantizer: string;
  perChannel: boolean;
  quantizeFirst: boolean;
  quantizeLast: boolean;
  ewgs: boolean;
  ewgsEvery: number;
  unlabeled: boolean;
  loss: string;
  epochs: number;
  stepsPerEpoch?: number;
  batchSize: number;
  lr: number;
  lrQuant: number;
  weightDecay: number;
  temperature: number;
  evalLimit?: number;
  seed: number;
  padCrop: number;
  out?: string;
  onnx?: string;
  report?: string;
}

const LOSSES: readonly SqakdLoss[] = ['kd', 'ce', 'ce+kd'];
const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(2)}%`);

async function ortAccuracy(bytes: Uint8Array, model: Model, split: Split): Promise<number> {
  const engine = await import('@edgecompress/engine');
  const session = await engine.createOrtSession(bytes, { threads: 1 });
  try {
    const k = model.graph.numClasses;
    const perSample = model.graph.inputShape.reduce((a, b) => a * b, 1);
    let correct = 0;
    for (let start = 0; start < split.count; start += 256) {
      const n = Math.min(256, split.count - start);
      const images = split.images.subarray(start * perSample, (start + n) * perSample);
      const logits = await engine.runOrt(session, images, n, model.graph.inputShape);
      for (let i = 0; i < n; i++) {
        const row = Array.from(logits.subarray(i * k, (i + 1) * k));
        if (row.indexOf(Math.max(...row)) === split.labels![start + i]) correct++;
      }
    }
    return correct / split.count;
  } finally {
    await session.release();
  }
}

async function ortLatencyMs(bytes: Uint8Array, inputShape: readonly number[]): Promise<number> {
  const engine = await import('@edgecompress/engine');
  const session = await engine.createOrtSession(bytes, { threads: 1 });
  try {
    const input = new Float32Array(inputShape.reduce((a, b) => a * b, 1)).fill(0.5);
    const times: number[] = [];
    for (let i = 0; i < 220; i++) {
      const t0 = performance.now();
      await engine.runOrt(session, input, 1, inputShape);
      if (i >= 20) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return times[times.length >> 1]!;
  } finally {
    await session.release();
  }
}

async function runCommand(o: SqakdCliOptions): Promise<void> {
  const compress = await import('@edgecompress/compress');
  const engine = await import('@edgecompress/engine');
  if (!LOSSES.includes(o.loss as SqakdLoss))
    throw new Error(`unknown --loss "${o.loss}" (one of ${LOSSES.join(', ')})`);
  const loss = o.loss as SqakdLoss;
  if (o.unlabeled && loss !== 'kd')
    throw new Error(`--loss ${loss} trains on labels; it cannot run with --unlabeled`);
  const bits = compress.parseBitSpec(o.bits);
  const quantization = {
    ...bits,
    quantizer: o.quantizer as QuantizerKind,
    perChannel: o.perChannel,
    keepFirstFloat: !o.quantizeFirst,
    keepLastFloat: !o.quantizeLast,
    ewgs: o.ewgs,
  };
  compress.validateQuantizationConfig(quantization);
  const teacher = await loadInputModel(o.model);
  const studentInit = o.studentInit ? await loadInputModel(o.studentInit) : undefined;
  const loaded = await loadInputDataset(o, teacher);
  const dataset = o.unlabeled ? { ...loaded, train: engine.withoutLabels(loaded.train) } : loaded;
  const backend = await engine.initEngineBackend();
  const batchSize = Math.min(o.batchSize, dataset.train.count);
  const perEpoch = Math.min(
    Math.floor(dataset.train.count / batchSize),
    o.stepsPerEpoch ?? Number.POSITIVE_INFINITY,
  );
  process.stderr.write(
    `SQAKD ${o.bits.toUpperCase()} ${o.quantizer} on ${teacher.graph.architecture} (${dataset.name}, ` +
      `${dataset.train.count} train${o.unlabeled ? ' unlabeled' : ''} / ${dataset.test.count} test), loss ${loss}, ` +
      `${o.epochs} epoch(s) x ${perEpoch} steps; backend ${backend.name}\n`,
  );
  const progress = createProgress('sqakd', o.epochs * perEpoch, ['epoch', 'loss', 'acc']);
  const fields = { epoch: '-', loss: '-', acc: '-' };
  let result: SqakdResult;
  try {
    result = compress.runSqakd(dataset, {
      teacher,
      ...(studentInit ? { studentInit } : {}),
      quantization,
      loss,
      epochs: o.epochs,
      ...(o.stepsPerEpoch !== undefined ? { stepsPerEpoch: o.stepsPerEpoch } : {}),
      batchSize,
      lrWeights: o.lr,
      lrQuantizer: o.lrQuant,
      weightDecay: o.weightDecay,
      temperature: o.temperature,
      seed: o.seed,
      padCrop: o.padCrop,
      ...(o.ewgs ? { ewgsUpdateEvery: o.ewgsEvery } : {}),
      ...(o.evalLimit !== undefined ? { evalLimit: o.evalLimit } : {}),
      onProgress: (p) => {
        showEpochStep(progress, fields, p);
      },
    });
  } finally {
    progress.stop();
  }
  const out: string[] = [
    `teacher test accuracy ${pct(result.teacherAccuracy)}; student best ${pct(result.bestAccuracy)}, ` +
      `mean of last 5 epochs ${pct(result.meanLast5Accuracy)}`,
  ];
  if (o.out) {
    engine.saveModel(o.out, result.model);
    out.push(`quantized model written to ${o.out}`);
  }
  if (o.onnx) {
    const { bytes, report } = await compress.exportQuantizedModel(result.model, {
      parent: o.model,
      method: 'sqakd',
      options: { bits: o.bits, quantizer: o.quantizer, loss, unlabeled: o.unlabeled },
      provenance: result.provenance,
    });
    writeAtomically(o.onnx, bytes);
    if (dataset.test.labels) {
      const engineAcc = engine.evaluate(result.model, dataset.test).accuracy;
      const ortAcc = await ortAccuracy(bytes, result.model, dataset.test);
      out.push(
        `exported file under ORT: test acc ${pct(ortAcc)} vs engine fake-quant ${pct(engineAcc)} ` +
          `(${(100 * (ortAcc - engineAcc)).toFixed(2)} pt) on ${dataset.test.count} examples`,
      );
    }
    const floatMs = await ortLatencyMs(engine.exportOnnx(teacher), teacher.graph.inputShape);
    const quantMs = await ortLatencyMs(bytes, teacher.graph.inputShape);
    out.push(
      `ORT latency, batch 1, 1 thread, median of 200: float teacher ${floatMs.toFixed(3)} ms, ` +
        `quantized ${quantMs.toFixed(3)} ms (x${(floatMs / quantMs).toFixed(2)})`,
    );
    const storage = [
      ...new Set(Object.values(report.weights).map((w) => `${w.bits}-bit ${w.storage}`)),
    ];
    out.push(
      `ONNX written to ${o.onnx}: ${bytes.length} bytes, opset ${report.opset}, weights ${storage.join(', ')}, ` +
        `${Object.keys(report.activations).length} activation QDQ pairs`,
    );
  }
  if (o.report) out.push(writeResultReport(o.report, result, 'history and provenance'));
  process.stdout.write(out.join('\n') + '\n');
}

export function register(compress: Command): void {
  const command = compress
    .command('sqakd')
    .description(
      'quantize to 2/3/4/8 bits by distilling the float model into its quantized copy (no labels)',
    )
    .requiredOption('-m, --model <file>', 'the full-precision teacher (model file or ONNX)')
    .option('--student-init <file>', 'float model the student starts from (default: the teacher)');
  withDatasetOptions(command)
    .option(
      '--bits <wXaY>',
      'weight and activation bits, each 2, 3, 4 or 8 (e.g. w2a2, w4a8)',
      'w4a4',
    )
    .option('--quantizer <kind>', 'learned-interval, lsq, pact or dorefa', 'learned-interval')
    .option('--per-channel', 'one weight-quantizer parameter set per output channel', false)
    .option('--quantize-first', 'also quantize the first conv', false)
    .option('--quantize-last', 'also quantize the classifier', false)
    .option(
      '--ewgs',
      'EWGS gradient scaling with the Hessian-trace update of delta (learned-interval only)',
      false,
    )
    .option('--ewgs-every <n>', 'epochs between EWGS delta updates', int('--ewgs-every'), 10)
    .option(
      '--unlabeled',
      'drop the training labels before training (SQAKD never reads them)',
      false,
    )
    .option('--loss <kind>', 'kd (SQAKD), ce (labels only) or ce+kd', 'kd')
    .option('--epochs <n>', 'training epochs', int('--epochs'), 10)
    .option(
      '--steps-per-epoch <n>',
      'cap on steps per epoch (short runs)',
      int('--steps-per-epoch'),
    )
    .option('-b, --batch-size <n>', 'batch size', int('--batch-size'), 256)
    .option('--lr <rate>', 'Adam learning rate of the weights (cosine to 0)', num('--lr'), 1e-3)
    .option(
      '--lr-quant <rate>',
      'Adam learning rate of the quantizer parameters',
      num('--lr-quant'),
      1e-5,
    )
    .option('--weight-decay <wd>', 'weight decay of the weights', num('--weight-decay'), 1e-4)
    .option('--temperature <T>', 'distillation temperature', num('--temperature'), 4)
    .option(
      '--eval-limit <n>',
      'evaluate on the first n test examples each epoch',
      int('--eval-limit'),
    )
    .option('--seed <n>', 'seed of the training order', int('--seed'), 0)
    .option(
      '--pad-crop <px>',
      'random crop after padding the training images by px pixels, as `edgec train --pad-crop` (0 = off)',
      int('--pad-crop'),
      0,
    )
    .option('-o, --out <file>', 'write the quantized model file')
    .option('--onnx <file>', 'export the quantized model to ONNX (int8/int4 QDQ, 2-3 bit packed)')
    .option('--report <file>', 'write the history and provenance as JSON')
    .action(async (o: SqakdCliOptions) => runCommand(o));
}
