import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countModelCost, loadModel } from '@edgecompress/engine';

const EDGEC = join(__dirname, '../../../../bin/edgec.js');

function edgec(args: string[]) {
  const r = spawnSync(process.execPath, [EDGEC, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('edgec train / eval (real processes)', () => {
  it('trains on synthetic data, writes a model file that eval reads back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgec-cli-train-'));
    try {
      const out = join(dir, 'model.ecm');
      const ckpt = join(dir, 'run.ckpt');
      const t = edgec([
        'train',
        '--dataset',
        'synthetic',
        '--model',
        'small-cnn',
        '--epochs',
        '2',
        '--batch-size',
        '16',
        '--optimizer',
        'adam',
        '--lr',
        '0.01',
        '--out',
        out,
        '--checkpoint',
        ckpt,
      ]);
      assert.equal(t.code, 0, t.stderr);
      const line = /final test accuracy ([\d.]+)% .* after 2 epochs/.exec(t.stdout);
      assert.ok(line, t.stdout);
      assert.ok(Number(line[1]) >= 80, `accuracy ${line[1]}%`);
      assert.match(t.stderr, /epoch 2\/2: train loss/);
      assert.ok(existsSync(out) && existsSync(ckpt));
      const e = edgec(['eval', '--model', out, '--dataset', 'synthetic']);
      assert.equal(e.code, 0, e.stderr);
      // eval reproduces the accuracy train reported, to the printed precision.
      assert.match(e.stdout, new RegExp(`test accuracy ${line[1]}% \\(\\d+/64\\)`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--width narrows a VGG: a quarter-width vgg8 has about 1/16 of the parameters', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgec-cli-width-'));
    try {
      const full = join(dir, 'full.ecm');
      const quarter = join(dir, 'quarter.ecm');
      const common = [
        'train',
        '-m',
        'vgg8',
        '-d',
        'synthetic',
        '-e',
        '1',
        '--limit-train',
        '32',
        '-b',
        '16',
      ];
      assert.equal(edgec([...common, '-o', full]).code, 0);
      const q = edgec([...common, '--width', '0.25', '-o', quarter]);
      assert.equal(q.code, 0, q.stderr);
      const ratio =
        countModelCost(loadModel(quarter).graph).params /
        countModelCost(loadModel(full).graph).params;
      // Conv kernels scale with width squared; the stem's input and the classifier's output do not.
      assert.ok(ratio > 0.055 && ratio < 0.075, `params ratio ${ratio}`);
      const bad = edgec([...common, '-m', 'resnet8', '--width', '0.5']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--width applies to vgg\* and mobilenetv2 only, not to "resnet8"/);
      assert.match(edgec([...common, '--width', '0']).stderr, /--width must be in \(0, 4\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with a clear message on an unknown dataset or a missing model file', () => {
    const a = edgec(['train', '--dataset', 'cifar-1000']);
    assert.equal(a.code, 1);
    assert.match(a.stderr, /unknown dataset "cifar-1000"; known: mnist, fashion-mnist/);
    const b = edgec(['eval', '--model', '/nonexistent/model.ecm']);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /\/nonexistent\/model\.ecm/);
  });
});
