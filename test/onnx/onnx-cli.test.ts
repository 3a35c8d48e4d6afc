import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  META,
  buildSmallCnn,
  createOrtSession,
  decodeOnnxModel,
  loadModel,
  readMetadata,
  runOrt,
  saveModel,
} from '@edgecompress/engine';
import { randomizeWeights, randomInput } from './engine-models';
import { FIXTURES, loadTorchFixture, relativeL2 } from './onnx-fixtures';

const root = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'ec-onnx-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

function edgec(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'edgec.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('edgec export / edgec import (real processes)', () => {
  const modelPath = join(work, 'cnn.ecm');
  const model = randomizeWeights(buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10 }), 21);
  saveModel(modelPath, model);

  it('exports a float ONNX file with the variant metadata', async () => {
    const out = join(work, 'cnn.onnx');
    const r = edgec(
      'export',
      '--model',
      modelPath,
      '--format',
      'onnx',
      '--out',
      out,
      '--variant-id',
      'v-42',
      '--method',
      'aap',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /wrote .*cnn\.onnx: \d+ bytes, float32, opset 17/);
    const meta = readMetadata(decodeOnnxModel(readFileSync(out)));
    assert.equal(meta.get(META.variantId), 'v-42');
    assert.equal(meta.get(META.method), 'aap');
    const session = await createOrtSession(readFileSync(out));
    const logits = await runOrt(session, randomInput(2, [28, 28, 1]), 2, [28, 28, 1]);
    await session.release();
    assert.equal(logits.length, 20);
  });

  it('exports int8 calibrated on MNIST (--quantize int8 --calib-dataset mnist)', () => {
    const out = join(work, 'cnn.int8.onnx');
    const r = edgec(
      'export',
      '--model',
      modelPath,
      '--format',
      'onnx',
      '--quantize',
      'int8',
      '--calib-dataset',
      'mnist',
      '--calib-count',
      '64',
      '--out',
      out,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /post-training, opset 17, weights 8-bit int8-qdq, \d+ activation QDQ pairs \(calibrated on 64 mnist samples\)/,
    );
    const report = JSON.parse(
      readMetadata(decodeOnnxModel(readFileSync(out))).get(META.quantization)!,
    ) as { mode: string };
    assert.equal(report.mode, 'post-training');
  });

  it('imports a PyTorch ONNX file into a model file that reproduces PyTorch', async () => {
    const out = join(work, 'resnet.ecm');
    const r = edgec('import', join(FIXTURES, 'torch-resnet.onnx'), '--out', out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /input 16x16x3, 10 classes, .*6 batchNorm.*2 stages/);
    const imported = loadModel(out);
    const fx = loadTorchFixture('torch-resnet');
    const roundTrip = join(work, 'resnet.onnx');
    assert.equal(edgec('export', '--model', out, '--out', roundTrip).status, 0);
    const session = await createOrtSession(readFileSync(roundTrip));
    const logits = await runOrt(session, fx.input, fx.count, imported.graph.inputShape);
    await session.release();
    assert.ok(relativeL2(logits, fx.expected) < 1e-4);
  });

  it('refuses a corrupt ONNX file with a clear message and writes nothing', () => {
    const bad = join(work, 'bad.onnx');
    writeFileSync(bad, loadTorchFixture('torch-vgg').bytes.subarray(0, 500));
    const out = join(work, 'never.ecm');
    const r = edgec('import', bad, '--out', out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /edgec: (not an ONNX model|.*truncated|.*declares)/);
    assert.equal(existsSync(out), false);
  });

  it('refuses an unknown --quantize mode', () => {
    const r = edgec(
      'export',
      '--model',
      modelPath,
      '--quantize',
      'int3',
      '--out',
      join(work, 'x.onnx'),
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown --quantize "int3"/);
  });
});
