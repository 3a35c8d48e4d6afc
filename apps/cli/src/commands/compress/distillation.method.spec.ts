import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import { GraphExecutor, exportOnnx, initEngineBackend, loadModel } from '@edgecompress/engine';
import { edgec, writeSyntheticModel } from './cli-test-kit';

describe('edgec compress ckdf / lcmr (real processes)', () => {
  let dir = '';
  let teacher = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgec-distil-'));
    teacher = writeSyntheticModel(join(dir, 'teacher.ecm'), 'resnet20');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ckdf trains a resnet8 student, writes it and a report with memory and pairs', () => {
    const out = join(dir, 'ckdf.ecm');
    const report = join(dir, 'ckdf.json');
    const r = edgec([
      'compress',
      'ckdf',
      '-t',
      teacher,
      '-s',
      'resnet8',
      '-d',
      'synthetic',
      '--limit-train',
      '96',
      '--limit-test',
      '32',
      '--epochs',
      '1',
      '-b',
      '32',
      '--nce-k',
      '32',
      '--alpha',
      '1',
      '-o',
      out,
      '--report',
      report,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /memory banks 0\.\d MiB/);
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      memory: { bankBytes: number };
      provenance: { pairs: { name: string }[]; crd: { nceK: number } };
    };
    assert.equal(json.memory.bankBytes, 5 * 2 * 96 * 128 * 4);
    assert.deepEqual(
      json.provenance.pairs.map((p) => p.name),
      ['stem', 'stage0', 'stage1', 'stage2', 'penultimate'],
    );
    assert.equal(loadModel(out).graph.architecture, 'resnet8');
  });

  it('ckdf refuses banks over the memory limit and writes nothing', () => {
    const out = join(dir, 'refused.ecm');
    const r = edgec([
      'compress',
      'ckdf',
      '-t',
      teacher,
      '-s',
      'resnet8',
      '-d',
      'synthetic',
      '--memory-limit-mb',
      '0',
      '-o',
      out,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /memory banks need .* over the 0 MiB limit/);
    assert.equal(existsSync(out), false);
  });

  it('lcmr replaces stages, and its student exports to ONNX and runs in ORT', async () => {
    const out = join(dir, 'lcmr.ecm');
    const r = edgec([
      'compress',
      'lcmr',
      '-t',
      teacher,
      '-s',
      'resnet8',
      '-d',
      'synthetic',
      '--limit-train',
      '96',
      '--limit-test',
      '32',
      '--replace-steps',
      '6',
      '--finetune-steps',
      '2',
      '-b',
      '32',
      '-o',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /student \d+\.\d\d%/);
    const model = loadModel(out);
    const session = await ort.InferenceSession.create(exportOnnx(model));
    const [h, w, c] = model.graph.inputShape as [number, number, number];
    const nhwc = Float32Array.from({ length: 2 * h * w * c }, (_, i) => Math.sin(i));
    const nchw = new Float32Array(nhwc.length);
    for (let n = 0; n < 2; n++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          for (let k = 0; k < c; k++)
            nchw[((n * c + k) * h + y) * w + x] = nhwc[((n * h + y) * w + x) * c + k]!;
    const input = new ort.Tensor('float32', nchw, [2, c, h, w]);
    const res = await session.run({ [session.inputNames[0]!]: input });
    const onnxLogits = res[session.outputNames[0]!]!.data as Float32Array;
    await initEngineBackend();
    const exec = new GraphExecutor(model);
    try {
      const x = tf.tensor4d(nhwc, [2, h, w, c]);
      const ours = exec.forward(x, { training: false }).logits.dataSync();
      assert.equal(onnxLogits.length, 2 * model.graph.numClasses);
      ours.forEach((v, i) =>
        assert.ok(Math.abs(v - onnxLogits[i]!) < 1e-3, `${v} vs ${onnxLogits[i]}`),
      );
    } finally {
      exec.dispose();
    }
  });

  it('bad inputs: unknown curriculum, a student whose stage shapes differ, a missing teacher', () => {
    const bad = edgec([
      'compress',
      'lcmr',
      '-t',
      teacher,
      '-s',
      'resnet8',
      '-d',
      'synthetic',
      '--curriculum',
      'cubic',
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown --curriculum "cubic"/);
    const shapes = edgec(['compress', 'lcmr', '-t', teacher, '-s', 'vgg8', '-d', 'synthetic']);
    assert.notEqual(shapes.code, 0);
    assert.match(shapes.stderr, /stages but the student|keep the shapes/);
    const missing = edgec(['compress', 'ckdf', '-t', join(dir, 'nope.ecm'), '-s', 'resnet8']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /not found/);
  });
});
