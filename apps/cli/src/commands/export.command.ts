/**
 * `edgec export`: a model file -> ONNX. Float by default (BatchNorm folded); `--quantize int8`
 * calibrates a static int8 QDQ model on a few training batches; a quantization-aware model
 * (weightQuant / fakeQuant marks) is always written at its own bit widths.
 */
import type { Command } from 'commander';
import { renameSync, writeFileSync } from 'node:fs';

type Engine = typeof import('@edgecompress/engine');

interface ExportCliOptions {
  model: string;
  format: string;
  out: string;
  quantize: string;
  calibDataset: string;
  calibCount: number;
  dataDir?: string;
  foldBn: boolean;
  variantId?: string;
  parent?: string;
  method?: string;
}

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${flag} must be a positive integer, got "${v}"`);
    return n;
  };
}

/** Writes next to the target and renames, so a failed export never leaves a partial file. */
function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** The first `--calib-count` training samples of the calibration dataset. */
function loadCalibration(
  engine: Engine,
  o: ExportCliOptions,
  inputShape: readonly number[],
): { data: Float32Array; count: number } {
  const dataset = engine.loadDataset(o.calibDataset, {
    ...(o.dataDir ? { dir: o.dataDir } : {}),
    limit: { train: o.calibCount, test: 1 },
  });
  if (dataset.inputShape.join('x') !== inputShape.join('x')) {
    throw new Error(
      `model ${o.model} takes ${inputShape.join('x')} inputs; calibration set ${dataset.name} has ${dataset.inputShape.join('x')}`,
    );
  }
  const count = Math.min(o.calibCount, dataset.train.count);
  const perSample = dataset.inputShape.reduce((a, b) => a * b, 1);
  return { data: dataset.train.images.subarray(0, count * perSample), count };
}

export function register(program: Command): void {
  program
    .command('export')
    .description(
      'export a model file to ONNX (float, calibrated int8, or its own quantized bit widths)',
    )
    .requiredOption('-m, --model <file>', 'model file')
    .requiredOption('-o, --out <file>', 'ONNX file to write')
    .option('-f, --format <format>', 'output format (onnx)', 'onnx')
    .option('-q, --quantize <mode>', 'none or int8 (post-training, calibrated)', 'none')
    .option(
      '--calib-dataset <name>',
      'calibration data: mnist, fashion-mnist, idx or synthetic',
      'mnist',
    )
    .option(
      '--calib-count <n>',
      'calibration samples from the training split',
      positiveInt('--calib-count'),
      256,
    )
    .option('--data-dir <dir>', 'directory of the IDX files (fashion-mnist, idx)')
    .option('--no-fold-bn', 'keep BatchNormalization nodes instead of folding them into convs')
    .option('--variant-id <id>', 'variant id recorded in the ONNX metadata')
    .option('--parent <id>', 'parent variant id recorded in the ONNX metadata')
    .option('--method <name>', 'compression method recorded in the ONNX metadata')
    .action(async (o: ExportCliOptions) => {
      if (o.format !== 'onnx') throw new Error(`unknown --format "${o.format}" (supported: onnx)`);
      if (o.quantize !== 'none' && o.quantize !== 'int8') {
        throw new Error(`unknown --quantize "${o.quantize}" (none or int8)`);
      }
      const engine = await import('@edgecompress/engine');
      const model = engine.loadModel(o.model);
      const metadata = {
        ...(o.variantId ? { variantId: o.variantId } : {}),
        ...(o.parent ? { parent: o.parent } : {}),
        ...(o.method ? { method: o.method } : {}),
        options: { quantize: o.quantize, foldBatchNorm: o.foldBn },
      };
      let bytes: Uint8Array;
      let summary: string;
      if (o.quantize !== 'int8' && !engine.hasQuantizationMarks(model)) {
        bytes = engine.exportOnnx(model, { foldBatchNorm: o.foldBn, metadata });
        summary = `float32, opset ${engine.FLOAT_OPSET}`;
      } else {
        const needsData =
          o.quantize === 'int8' || model.graph.nodes.some((n) => n.op === 'fakeQuant');
        const calibration = needsData
          ? loadCalibration(engine, o, model.graph.inputShape)
          : undefined;
        const result = await engine.exportQuantizedOnnx(model, {
          ...(calibration ? { calibration } : {}),
          metadata,
        });
        bytes = result.bytes;
        const widths = [
          ...new Set(Object.values(result.report.weights).map((w) => `${w.bits}-bit ${w.storage}`)),
        ];
        summary =
          `${result.report.mode}, opset ${result.report.opset}, weights ${widths.join(', ') || 'float'}, ` +
          `${Object.keys(result.report.activations).length} activation QDQ pairs` +
          (calibration ? ` (calibrated on ${calibration.count} ${o.calibDataset} samples)` : '');
      }
      writeAtomically(o.out, bytes);
      process.stdout.write(`wrote ${o.out}: ${bytes.length} bytes, ${summary}\n`);
    });
}
