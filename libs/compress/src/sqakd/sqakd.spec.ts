import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  GraphExecutor,
  buildSmallCnn,
  createOrtSession,
  evaluate,
  initEngineBackend,
  runOrt,
  syntheticDataset,
  train,
  type Dataset,
  type Model,
} from '@edgecompress/engine';
import { analyzeDependencies, removeChannels } from '../pruning';
import {
  activationQuantizerId,
  exportQuantizedModel,
  insertQuantizers,
  parseBitSpec,
  quantizeModel,
  type QuantizationConfig,
} from '../quant';
import { runSqakd } from './sqakd-runner';

const data: Dataset = syntheticDataset({
  inputShape: [8, 8, 1],
  numClasses: 4,
  trainCount: 512,
  testCount: 256,
  noise: 1.2,
  seed: 11,
});
const size = 64;

let teacher: Model;

const config = (
  bits: string,
  quantizer: QuantizationConfig['quantizer'] = 'lsq',
): QuantizationConfig => ({
  ...parseBitSpec(bits),
  quantizer,
});

async function ortAccuracy(bytes: Uint8Array, model: Model): Promise<number> {
  const session = await createOrtSession(bytes, { threads: 1 });
  const logits = await runOrt(session, data.test.images, data.test.count, model.graph.inputShape);
  await session.release();
  const k = model.graph.numClasses;
  let correct = 0;
  for (let i = 0; i < data.test.count; i++) {
    const row = logits.subarray(i * k, (i + 1) * k);
    if (row.indexOf(Math.max(...row)) === data.test.labels![i]) correct++;
  }
  return correct / data.test.count;
}

describe('quantizer insertion and initialisation', () => {
  before(async () => {
    await initEngineBackend();
    const result = await train({
      model: buildSmallCnn({ inputShape: [8, 8, 1], numClasses: 4, seed: 2, widths: [8, 16, 16] }),
      dataset: data,
      epochs: 3,
      batchSize: 32,
      optimizer: { kind: 'adam' },
      lr: 3e-3,
      schedule: 'cosine',
      evaluateEachEpoch: false,
      seed: 1,
    });
    teacher = result.model;
  });

  it('marks every layer but the first conv and the classifier, with an activation quantizer at each input', () => {
    const q = insertQuantizers(teacher, config('w2a4'));
    const layers = q.graph.nodes.filter((n) => n.op === 'conv2d' || n.op === 'dense');
    const marked = layers.filter((n) => 'weightQuant' in n.attrs && n.attrs.weightQuant);
    assert.equal(marked.length, layers.length - 2);
    assert.ok(
      !('weightQuant' in layers[0]!.attrs && layers[0]!.attrs.weightQuant),
      'first conv float',
    );
    assert.ok(
      !('weightQuant' in layers.at(-1)!.attrs && layers.at(-1)!.attrs.weightQuant),
      'classifier float',
    );
    for (const node of marked) {
      const fq = q.graph.nodes.find((n) => n.id === node.inputs[0]);
      assert.equal(fq?.op, 'fakeQuant');
      assert.deepEqual(fq!.attrs, { quantizer: 'lsq', bits: 4, signed: false });
      assert.equal(fq!.id, activationQuantizerId(fq!.inputs[0]!));
    }
    const all = insertQuantizers(teacher, {
      ...config('w8a8'),
      keepFirstFloat: false,
      keepLastFloat: false,
    });
    assert.equal(
      all.graph.nodes.filter((n) => 'weightQuant' in n.attrs && n.attrs.weightQuant).length,
      layers.length,
    );
  });

  it('gives clear errors: bits 1 or 9, a graph with no quantizable layers, an already quantized model', () => {
    assert.throws(() => parseBitSpec('w1a2'), /weight bit width must be one of 2, 3, 4, 8, got 1/);
    assert.throws(
      () => parseBitSpec('w4a9'),
      /activation bit width must be one of 2, 3, 4, 8, got 9/,
    );
    assert.throws(() => parseBitSpec('4bit'), /bits must look like w2a2/);
    assert.throws(
      () => insertQuantizers(teacher, { weightBits: 9, activationBits: 4, quantizer: 'lsq' }),
      /weight bit width must be one of/,
    );
    const twoLayers: Model = {
      graph: {
        ...teacher.graph,
        nodes: teacher.graph.nodes.filter(
          (n) =>
            !(n.op === 'conv2d' && n.id !== teacher.graph.nodes.find((m) => m.op === 'conv2d')!.id),
        ),
      },
      weights: teacher.weights,
    };
    assert.throws(() => insertQuantizers(twoLayers, config('w2a2')), /has no quantizable layers/);
    const once = insertQuantizers(teacher, config('w4a4'));
    assert.throws(() => insertQuantizers(once, config('w4a4')), /already carries quantizers/);
    assert.throws(
      () => insertQuantizers(teacher, { ...config('w4a4'), quantizer: 'ewgs' as never }),
      /unknown quantizer "ewgs"/,
    );
  });

  it('initialises learned-interval and LSQ parameters by their rules on one batch', () => {
    const batch = data.train.images.subarray(0, 64 * size);
    const q = quantizeModel(teacher, config('w4a4', 'learned-interval'), batch);
    const node = q.graph.nodes.find(
      (n) => n.op === 'conv2d' && 'weightQuant' in n.attrs && n.attrs.weightQuant,
    )!;
    const kernel = Array.from(teacher.weights.get(`${node.id}/kernel`)!.data);
    const mean = kernel.reduce((a, b) => a + b, 0) / kernel.length;
    const sigma = Math.sqrt(kernel.reduce((a, b) => a + (b - mean) ** 2, 0) / kernel.length);
    const w = (name: string): number => q.weights.get(name)!.data[0]!;
    assert.ok(Math.abs(w(`${node.id}/wq.upper`) - 3 * sigma) < 1e-5 * (1 + sigma));
    assert.ok(Math.abs(w(`${node.id}/wq.lower`) + 3 * sigma) < 1e-5 * (1 + sigma));
    assert.ok(w(`${node.id}/wq.scale`) > 0);
    // activation: capture the float input of the fakeQuant node on the same batch (train mode)
    const aq = node.inputs[0]!;
    const src = q.graph.nodes.find((n) => n.id === aq)!.inputs[0]!;
    const ex = new GraphExecutor(teacher);
    const x = tf.tensor(batch, [64, 8, 8, 1]) as tf.Tensor4D;
    const out = ex.forward(x, { training: true, capture: [src] });
    const v = Array.from(out.captured.get(src)!.dataSync());
    const vMean = v.reduce((a, b) => a + b, 0) / v.length;
    const vSigma = Math.sqrt(v.reduce((a, b) => a + (b - vMean) ** 2, 0) / v.length);
    assert.ok(
      Math.abs(w(`${aq}/upper`) - (3 * vSigma) / Math.sqrt(1 - 2 / Math.PI)) < 1e-4 * (1 + vSigma),
    );
    assert.equal(w(`${aq}/lower`), Math.min(...v));
    const lsq = quantizeModel(teacher, config('w4a4', 'lsq'), batch);
    const meanAbs = kernel.reduce((a, b) => a + Math.abs(b), 0) / kernel.length;
    assert.ok(
      Math.abs(lsq.weights.get(`${node.id}/wq.step`)!.data[0]! - (2 * meanAbs) / Math.sqrt(7)) <
        1e-6,
    );
    const vAbs = v.reduce((a, b) => a + Math.abs(b), 0) / v.length;
    assert.ok(
      Math.abs(lsq.weights.get(`${aq}/step`)!.data[0]! - (2 * vAbs) / Math.sqrt(15)) < 1e-5,
    );
    ex.dispose();
    x.dispose();
  });
});

describe('SQAKD', () => {
  it('reads no labels: unlabeled and label-shuffled training splits give the same student, which converges', () => {
    const common = {
      teacher,
      quantization: config('w2a2', 'lsq'),
      epochs: 2,
      batchSize: 32,
      lrWeights: 2e-3,
      seed: 4,
    };
    const unlabeled = { ...data, train: { ...data.train, labels: null } };
    const shuffledLabels = Int32Array.from(data.train.labels!)
      .reverse()
      .map((l) => (l + 1) % 4);
    const shuffled = { ...data, train: { ...data.train, labels: shuffledLabels } };
    const a = runSqakd(unlabeled, common);
    const b = runSqakd(shuffled, common);
    assert.equal(a.provenance.labelsRead, false);
    for (const [name, w] of a.model.weights) {
      assert.deepEqual(b.model.weights.get(name)!.data, w.data, `weight ${name} identical`);
    }
    assert.ok(
      a.history[1]!.loss < a.history[0]!.loss,
      `KD loss falls: ${a.history.map((h) => h.loss)}`,
    );
    assert.ok(a.teacherAccuracy! > 0.8, `teacher ${a.teacherAccuracy}`);
    assert.ok(
      a.bestAccuracy! > 0.6,
      `student ${a.bestAccuracy} (chance 0.25, teacher ${a.teacherAccuracy})`,
    );
    assert.equal(a.meanLast5Accuracy, (a.history[0]!.accuracy! + a.history[1]!.accuracy!) / 2);
    // the label-trained baseline refuses an unlabeled split
    assert.throws(() => runSqakd(unlabeled, { ...common, loss: 'ce' }), /needs labels/);
  });

  it('composes with pruning: a channel-pruned float model is the student the teacher distils into', async () => {
    const analysis = analyzeDependencies(teacher.graph);
    const removed = new Set<number>();
    for (const g of analysis.groups.filter((x) => x.prunable)) {
      for (const c of g.channels.slice(0, Math.floor(g.channels.length / 4))) removed.add(c.id);
    }
    const pruned = removeChannels(teacher, analysis, removed).model;
    const params = (m: Model): number =>
      [...m.weights.values()].reduce((a, w) => a + w.data.length, 0);
    assert.ok(params(pruned) < params(teacher));
    const result = runSqakd(data, {
      teacher,
      studentInit: pruned,
      quantization: config('w4a4', 'lsq'),
      epochs: 1,
      stepsPerEpoch: 6,
      batchSize: 32,
    });
    const convs = (m: Model): number[] =>
      m.graph.nodes.flatMap((n) => (n.op === 'conv2d' ? [n.attrs.filters] : []));
    assert.deepEqual(convs(result.model), convs(pruned));
    assert.ok(
      result.bestAccuracy! > 0.4,
      `pruned W4A4 student (chance 0.25) ${result.bestAccuracy}`,
    );
    const { bytes } = await exportQuantizedModel(result.model);
    assert.equal(
      await ortAccuracy(bytes, result.model),
      evaluate(result.model, data.test).accuracy,
    );
  });

  it('EWGS: the Hessian-trace rule sets each weight quantizer delta (finite, >= 0) and training uses it', () => {
    const result = runSqakd(data, {
      teacher,
      quantization: { ...config('w2a2', 'learned-interval'), ewgs: true },
      ewgsUpdateEvery: 1,
      epochs: 2,
      stepsPerEpoch: 3,
      batchSize: 32,
    });
    const deltas = [...result.model.weights]
      .filter(([name]) => name.endsWith('/wq.delta'))
      .map(([, w]) => w.data[0]!);
    assert.equal(deltas.length, 2);
    assert.ok(
      deltas.every((d) => Number.isFinite(d) && d >= 0),
      `deltas ${deltas}`,
    );
    const mean = deltas.reduce((a, b) => a + b, 0) / deltas.length;
    assert.ok(Math.abs(result.history[1]!.ewgsDelta! - mean) < 1e-6);
    assert.ok(result.history.every((h) => h.ewgsDelta !== undefined));
    assert.match(result.provenance.decisions.join(' '), /Hessian-trace rule every 1 epoch/);
    assert.throws(
      () =>
        runSqakd(data, {
          teacher,
          quantization: config('w2a2', 'lsq'),
          ewgsUpdateEvery: 1,
          epochs: 1,
        }),
      /ewgsUpdateEvery needs quantization.ewgs/,
    );
  });

  it('pad-crop: teacher and student see the same random crop, reproducibly; bad sizes are refused', () => {
    const firstLosses = (padCrop: number): { losses: number[]; model: Model } => {
      const losses: number[] = [];
      const result = runSqakd(data, {
        teacher,
        quantization: config('w8a8', 'lsq'),
        epochs: 1,
        stepsPerEpoch: 3,
        batchSize: 32,
        padCrop,
        onProgress: (p) => {
          if (p.step < p.stepsPerEpoch) losses.push(p.loss);
        },
      });
      assert.equal(result.provenance.padCrop, padCrop);
      return { losses, model: result.model };
    };
    const plain = firstLosses(0);
    const cropped = firstLosses(2);
    // An 8-bit copy of the teacher agrees with it closely on any input, so the first step's KD
    // loss stays near zero only if both saw the same crop of each image.
    assert.ok(plain.losses[0]! < 0.05, `plain first-step loss ${plain.losses[0]}`);
    assert.ok(cropped.losses[0]! < 0.05, `cropped first-step loss ${cropped.losses[0]}`);
    const differs = [...plain.model.weights].some(
      ([name, w]) => !w.data.every((v, i) => v === cropped.model.weights.get(name)!.data[i]),
    );
    assert.ok(differs, 'cropping changes what the student learns');
    const again = firstLosses(2);
    assert.deepEqual(again.losses, cropped.losses);
    for (const padCrop of [-1, 8, 1.5]) {
      assert.throws(
        () => runSqakd(data, { teacher, quantization: config('w4a4'), epochs: 1, padCrop }),
        /padCrop must be an integer from 0 to 7 for 8x8 images/,
      );
    }
  });

  it('refuses a student that does not match the teacher', () => {
    const other = buildSmallCnn({
      inputShape: [8, 8, 1],
      numClasses: 3,
      seed: 2,
      widths: [8, 16, 16],
    });
    assert.throws(
      () =>
        runSqakd(data, { teacher, studentInit: other, quantization: config('w4a4'), epochs: 1 }),
      /cannot be distilled/,
    );
  });

  describe('export parity: the ONNX file under ORT matches the engine within 0.2 pt', () => {
    const cases: [string, QuantizationConfig['quantizer'], string][] = [
      ['w8a8', 'lsq', 'int8-qdq'],
      ['w4a4', 'dorefa', 'int4-qdq'],
      ['w4a8', 'learned-interval', 'int4-qdq'],
      ['w3a3', 'learned-interval', 'packed'],
      ['w2a2', 'pact', 'packed'],
      ['w2a4', 'lsq', 'packed'],
    ];
    for (const [bits, quantizer, storage] of cases) {
      it(`${bits} ${quantizer}: stored as ${storage}`, async () => {
        const result = runSqakd(data, {
          teacher,
          quantization: { ...config(bits, quantizer), perChannel: quantizer === 'dorefa' },
          epochs: 1,
          stepsPerEpoch: 4,
          batchSize: 32,
        });
        const engineAcc = evaluate(result.model, data.test).accuracy;
        const { bytes, report } = await exportQuantizedModel(result.model, {
          method: 'sqakd',
          provenance: result.provenance,
        });
        assert.ok(
          Object.values(report.weights).every((w) => w.storage === storage),
          JSON.stringify(report.weights),
        );
        const ortAcc = await ortAccuracy(bytes, result.model);
        assert.ok(
          Math.abs(ortAcc - engineAcc) <= 0.002 + 1e-9,
          `ORT ${(ortAcc * 100).toFixed(2)}% vs engine ${(engineAcc * 100).toFixed(2)}%`,
        );
      });
    }
  });
});
